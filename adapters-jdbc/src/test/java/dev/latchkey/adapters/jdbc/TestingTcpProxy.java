package dev.latchkey.adapters.jdbc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of a server, that can go silent: {@link #freeze()} stops forwarding in both
 * directions without closing anything (as a paused server or a partitioned network looks to a client), and
 * {@link #thaw()} resumes. With no target it is a black hole: it accepts connections and never answers.
 */
final class TestingTcpProxy
        implements AutoCloseable
{
    private final ServerSocket server;
    private final int targetPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Object gate = new Object();
    private volatile boolean frozen;
    private volatile boolean closed;

    private TestingTcpProxy(int targetPort, boolean frozen)
    {
        try {
            this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.targetPort = targetPort;
        this.frozen = frozen;
        Thread acceptor = new Thread(this::accept, "proxy-accept-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    static TestingTcpProxy to(int targetPort)
    {
        return new TestingTcpProxy(targetPort, false);
    }

    /**
     * Accepts connections and never sends a byte.
     */
    static TestingTcpProxy blackHole()
    {
        return new TestingTcpProxy(-1, true);
    }

    int port()
    {
        return server.getLocalPort();
    }

    void freeze()
    {
        frozen = true;
    }

    void thaw()
    {
        synchronized (gate) {
            frozen = false;
            gate.notifyAll();
        }
    }

    private void accept()
    {
        while (!closed) {
            try {
                Socket client = server.accept();
                sockets.add(client);
                Thread connection = new Thread(() -> connect(client), "proxy-connect-" + client.getPort());
                connection.setDaemon(true);
                connection.start();
            }
            catch (IOException e) {
                return;
            }
        }
    }

    private void connect(Socket client)
    {
        try {
            awaitThawed();
            if (targetPort < 0) {
                return;
            }
            Socket target = new Socket(InetAddress.getLoopbackAddress(), targetPort);
            sockets.add(target);
            pump(client, target);
            pump(target, client);
        }
        catch (IOException | InterruptedException e) {
            closeQuietly(client);
        }
    }

    private void pump(Socket from, Socket to)
    {
        Thread thread = new Thread(() -> {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    awaitThawed();
                    out.write(buffer, 0, read);
                    out.flush();
                }
            }
            catch (IOException | InterruptedException e) {
                // one side closed
            }
            finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "proxy-pump");
        thread.setDaemon(true);
        thread.start();
    }

    private void awaitThawed()
            throws InterruptedException
    {
        synchronized (gate) {
            while (frozen && !closed) {
                gate.wait();
            }
        }
    }

    @Override
    public void close()
    {
        synchronized (gate) {
            closed = true;
            gate.notifyAll();
        }
        closeQuietly(server);
        sockets.forEach(TestingTcpProxy::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable closeable)
    {
        try {
            closeable.close();
        }
        catch (Exception e) {
            // already closed
        }
    }
}
