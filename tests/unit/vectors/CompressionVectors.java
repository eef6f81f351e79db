import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.utils.ByteBufferOutputStream;
import org.apache.kafka.common.utils.BufferSupplier;
import java.io.*;
import java.nio.ByteBuffer;
import java.nio.file.*;

// mode "enc <codec> <in> <out>": compress like a Kafka 3.9 producer (magic 2).
// mode "dec <codec> <in> <out>": decompress like a Kafka 3.9 consumer/broker.
public class CompressionVectors {
    public static void main(String[] a) throws Exception {
        Compression c = Compression.of(a[1]).build();
        byte[] in = Files.readAllBytes(Paths.get(a[2]));
        if (a[0].equals("enc")) {
            ByteBufferOutputStream bb = new ByteBufferOutputStream(64);
            try (OutputStream os = c.wrapForOutput(bb, (byte) 2)) { os.write(in); }
            ByteBuffer b = bb.buffer(); b.flip();
            byte[] o = new byte[b.remaining()]; b.get(o);
            Files.write(Paths.get(a[3]), o);
        } else {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            try (InputStream is = c.wrapForInput(ByteBuffer.wrap(in), (byte) 2, BufferSupplier.NO_CACHING)) {
                byte[] buf = new byte[8192]; int n;
                while ((n = is.read(buf)) > 0) o.write(buf, 0, n);
            }
            Files.write(Paths.get(a[3]), o.toByteArray());
        }
    }
}
