package dev.latchkey.server.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * {@link AbstractMultiInstanceIT} on the filesystem store: A and B share one local directory. A local directory has
 * no outage to simulate, so G5 is skipped; the graceful stop holds a write in flight by holding the store's lock.
 */
class FileSystemMultiInstanceIT
        extends AbstractMultiInstanceIT
{
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private Path storeDirectory;

    FileSystemMultiInstanceIT()
    {
        super("filesystem", PATIENCE);
    }

    @Override
    protected AutoCloseable startStore(Path temporaryDirectory)
    {
        storeDirectory = temporaryDirectory.resolve("store");
        return () -> {};
    }

    @Override
    protected Map<String, String> storeSettings()
    {
        return Map.of("LATCHKEY_FS_DIR", storeDirectory.toString());
    }

    @Override
    protected Optional<StoreOutage> outage()
    {
        return Optional.empty();
    }

    /**
     * A new account posted while this test holds the store's write lock ({@code store.lock}): the write waits for
     * the lock (up to 5 s), in flight.
     */
    @Override
    protected Optional<RequestInFlight> holdARequestInFlight(ServerProcess server, String rootKey)
    {
        String body = "{\"account_id\": \"late\", \"admin_user_id\": \"bob\"}";
        Socket socket = new Socket();
        FileChannel lockFile = null;
        try {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), (int) PATIENCE.toMillis());
            socket.setSoTimeout((int) PATIENCE.toMillis());
            lockFile = FileChannel.open(storeDirectory.resolve("store.lock"), StandardOpenOption.WRITE);
            FileLock writeLock = lockFile.lock();
            OutputStream out = socket.getOutputStream();
            out.write(("POST /api/v1/admin/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + rootKey + "\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            return Optional.of(new LockedWrite(socket, lockFile, writeLock));
        }
        catch (IOException e) {
            closeQuietly(lockFile);
            closeQuietly(socket);
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A write sent on its own connection while the store's lock is held here.
     */
    private static final class LockedWrite
            implements RequestInFlight
    {
        private final Socket socket;
        private final FileChannel lockFile;
        private final FileLock writeLock;

        LockedWrite(Socket socket, FileChannel lockFile, FileLock writeLock)
        {
            this.socket = socket;
            this.lockFile = lockFile;
            this.writeLock = writeLock;
        }

        @Override
        public void assertStillHeld()
        {
            assertThat(writeLock.isValid()).as("the store's lock, held by the test").isTrue();
        }

        @Override
        public String releaseAndReadResponse()
        {
            closeQuietly(lockFile);
            try {
                return readResponse(socket.getInputStream());
            }
            catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close()
        {
            closeQuietly(lockFile);
            closeQuietly(socket);
        }
    }

    /**
     * One HTTP/1.1 response with a {@code Content-Length}, head and body, as text.
     */
    private static String readResponse(InputStream in)
            throws IOException
    {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int next = in.read();
            if (next < 0) {
                return fail("the connection closed before a response: %s", head);
            }
            head.append((char) next);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(line.indexOf(':') + 1).strip());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    private static void closeQuietly(AutoCloseable closeable)
    {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        }
        catch (Exception ignored) {
            // nothing held is left behind: closing the channel releases the lock
        }
    }
}
