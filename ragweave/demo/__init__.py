"""The demo corpus: a fictional organisation, written for ragweave."""
