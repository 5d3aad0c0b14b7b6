from ragweave.cli import main

raise SystemExit(main())
