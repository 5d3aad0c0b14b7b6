package ragweave.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.Version;

/**
 * Test-only launcher: an embedded Neo4j 5 Community DBMS with Bolt on 127.0.0.1:PORT, no auth.
 *
 * <p>Usage: {@code Neo4jLauncher --port N --data-dir PATH}. Prints exactly one line
 * {@code NEO4J_READY bolt://127.0.0.1:N} on stdout once the default database is available, then blocks
 * until stdin reaches EOF or the JVM gets SIGTERM/SIGINT, and shuts the DBMS down cleanly on either.
 * Diagnostics go to stderr; Neo4j's own logs go to PATH/logs.
 */
public final class Neo4jLauncher {

    private static final Object LOCK = new Object();
    private static DatabaseManagementService service;
    private static boolean stopped;

    private Neo4jLauncher() {
    }

    public static void main(String[] args) throws Exception {
        int port = -1;
        Path dataDir = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if ("--port".equals(arg) && i + 1 < args.length) {
                port = Integer.parseInt(args[++i]);
            } else if ("--data-dir".equals(arg) && i + 1 < args.length) {
                dataDir = Path.of(args[++i]);
            } else {
                usage("unknown or incomplete argument: " + arg);
            }
        }
        if (port <= 0 || port > 65535 || dataDir == null) {
            usage("--port and --data-dir are required");
        }
        dataDir = dataDir.toAbsolutePath();
        Files.createDirectories(dataDir);

        Runtime.getRuntime().addShutdownHook(new Thread(Neo4jLauncher::shutdown, "neo4j-launcher-shutdown"));

        long t0 = System.nanoTime();
        System.err.println("neo4j-launcher: starting Neo4j " + Version.getNeo4jVersion()
                + " (home " + dataDir + ", bolt 127.0.0.1:" + port + ", java "
                + System.getProperty("java.version") + ")");
        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(dataDir)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(64))
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                    .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(16))
                    .setConfig(GraphDatabaseSettings.check_point_interval_time, Duration.ofMinutes(5))
                    // Netty's default graceful shutdown waits 2 x 5 s of quiet period; nothing to drain in tests.
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                    .build();
        } catch (Throwable e) {
            System.err.println("neo4j-launcher: startup failed: " + e);
            e.printStackTrace(System.err);
            System.err.flush();
            Runtime.getRuntime().halt(2);
            return;
        }
        synchronized (LOCK) {
            if (stopped) {
                // SIGTERM arrived while building: shut down what was just built.
                dbms.shutdown();
                return;
            }
            service = dbms;
        }

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(TimeUnit.SECONDS.toMillis(120))) {
            System.err.println("neo4j-launcher: default database did not become available");
            System.exit(3);
        }
        System.err.printf("neo4j-launcher: ready in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        System.out.println("NEO4J_READY bolt://127.0.0.1:" + port);
        System.out.flush();

        // Block until stdin reaches EOF (the parent closed it or died); SIGTERM runs the shutdown hook.
        InputStream in = System.in;
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // ignore input
            }
        } catch (IOException e) {
            System.err.println("neo4j-launcher: stdin error, stopping: " + e);
        }
        System.err.println("neo4j-launcher: stdin closed, stopping");
        shutdown();
        System.exit(0);
    }

    private static void shutdown() {
        synchronized (LOCK) {
            if (stopped) {
                return;
            }
            stopped = true;
            if (service != null) {
                long t0 = System.nanoTime();
                try {
                    service.shutdown();
                    System.err.printf("neo4j-launcher: stopped in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
                } catch (Throwable e) {
                    System.err.println("neo4j-launcher: shutdown failed: " + e);
                    e.printStackTrace(System.err);
                }
                System.err.flush();
            }
        }
    }

    private static void usage(String message) {
        System.err.println("neo4j-launcher: " + message);
        System.err.println("usage: Neo4jLauncher --port N --data-dir PATH");
        System.exit(64);
    }
}
