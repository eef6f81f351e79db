import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.*;
import java.io.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

/*
 * Record batches written by the Java client (kafka-clients 3.9.1), for test_record_batch.c.
 *
 *   javac -cp <kafka-clients + lz4-java + snappy-java + zstd-jni + slf4j-api jars> RecordBatchVectors.java
 *   java -cp ...:. RecordBatchVectors gen record_batch_vectors.h
 *
 * "check <file> <magic>" reads a record set written by kafkette (a file of batches holding
 * the SET_A records below) with Java's own reader, validates every batch and compares every
 * record with SET_A; it prints OK or throws.
 */
public class RecordBatchVectors {
    static final long TS0 = 1700000000000L;
    static final long LOG_APPEND = TS0 + 999;

    static byte[] b(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

    static byte[] big() {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 300) sb.append("0123456789");
        return b(sb.toString());
    }

    // SET_A: keys, a null key, a null value, an empty key and value, headers (one with a null
    // value, one with an empty key), a timestamp before the first, a 300-byte value.
    static SimpleRecord[] setA(boolean headers) {
        Header[] none = new Header[0];
        return new SimpleRecord[] {
            new SimpleRecord(TS0, b("key-0"), b("value-0"),
                             headers ? new Header[] {new RecordHeader("h1", b("v1"))} : none),
            new SimpleRecord(TS0 + 5, null, b("value-1 without a key"), none),
            new SimpleRecord(TS0 - 10, b("key-2"), null,
                             headers ? new Header[] {new RecordHeader("h2", (byte[]) null),
                                                     new RecordHeader("", b("empty header key"))}
                                     : none),
            new SimpleRecord(TS0 + 100, b(""), b(""), none),
            new SimpleRecord(TS0 + 7, b("key-4"), big(), none),
        };
    }

    static byte[] batch(byte magic, CompressionType ct, TimestampType tt, long baseOffset,
                        long pid, short epoch, int seq, boolean txn, int ple, SimpleRecord[] recs) {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        Compression c = Compression.of(ct).build();
        MemoryRecordsBuilder mb = new MemoryRecordsBuilder(buf, magic, c, tt, baseOffset,
                LOG_APPEND, pid, epoch, seq, txn, false, ple, buf.capacity());
        for (SimpleRecord r : recs) {
            if (magic >= 2) mb.append(r.timestamp(), r.key(), r.value(), r.headers());
            else mb.append(r.timestamp(), r.key(), r.value());
        }
        return bytes(mb.build().buffer());
    }

    static byte[] plain(byte magic, CompressionType ct, long baseOffset, SimpleRecord[] recs) {
        return batch(magic, ct, TimestampType.CREATE_TIME, baseOffset, -1L, (short) -1, -1, false, -1, recs);
    }

    static byte[] marker(long offset, long pid, short epoch, ControlRecordType type) {
        return bytes(MemoryRecords.withEndTransactionMarker(offset, TS0 + 500, 0, pid, epoch,
                new EndTransactionMarker(type, 7)).buffer());
    }

    static byte[] bytes(ByteBuffer bb) {
        ByteBuffer d = bb.duplicate();
        byte[] o = new byte[d.remaining()];
        d.get(o);
        return o;
    }

    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.write(p, 0, p.length);
        return o.toByteArray();
    }

    static SimpleRecord[] slice(SimpleRecord[] a, int from, int to) {
        return Arrays.copyOfRange(a, from, to);
    }

    static void emit(PrintWriter out, String name, String what, byte[] data) {
        out.printf("/* %s */%n", what);
        out.printf("static const uint8_t %s[%d] = {%n", name, data.length);
        for (int i = 0; i < data.length; i += 16) {
            StringBuilder sb = new StringBuilder("   ");
            for (int j = i; j < Math.min(i + 16, data.length); j++)
                sb.append(String.format(" 0x%02x,", data[j] & 0xff));
            out.println(sb);
        }
        out.println("};");
    }

    static void gen(String path) throws Exception {
        SimpleRecord[] a = setA(true), a0 = setA(false);
        CompressionType NONE = CompressionType.NONE, GZIP = CompressionType.GZIP,
                SNAPPY = CompressionType.SNAPPY, LZ4 = CompressionType.LZ4, ZSTD = CompressionType.ZSTD;
        byte v0 = RecordBatch.MAGIC_VALUE_V0, v1 = RecordBatch.MAGIC_VALUE_V1, v2 = RecordBatch.MAGIC_VALUE_V2;
        try (PrintWriter out = new PrintWriter(new FileWriter(path))) {
            out.println("/*");
            out.println(" * Record sets written by the Java client (kafka-clients 3.9.1 MemoryRecordsBuilder and");
            out.println(" * MemoryRecords.withEndTransactionMarker), for test_record_batch.c. Generated by");
            out.println(" * tests/unit/vectors/RecordBatchVectors.java (\"gen\" mode); do not edit.");
            out.println(" *");
            out.println(" * SET_A (magic 2; the same without headers for magic 0/1), timestamps from TS0 = 1700000000000:");
            out.println(" *   0: TS0,     key \"key-0\", value \"value-0\", headers [h1: \"v1\"]");
            out.println(" *   1: TS0+5,   null key,    value \"value-1 without a key\"");
            out.println(" *   2: TS0-10,  key \"key-2\", null value, headers [h2: null, \"\": \"empty header key\"]");
            out.println(" *   3: TS0+100, key \"\",      value \"\"");
            out.println(" *   4: TS0+7,   key \"key-4\", value \"0123456789\" x 30");
            out.println(" * Unless said otherwise: CreateTime, producerId/epoch/sequence -1, partitionLeaderEpoch -1.");
            out.println(" * LogAppendTime batches use TS0+999. Markers: timestamp TS0+500, coordinatorEpoch 7,");
            out.println(" * partitionLeaderEpoch 0.");
            out.println(" */");
            out.println("#ifndef KK_TEST_RECORD_BATCH_VECTORS_H");
            out.println("#define KK_TEST_RECORD_BATCH_VECTORS_H");
            out.println();
            out.println("#include <stdint.h>");
            out.println();
            emit(out, "RB_V2_NONE", "magic 2, uncompressed, SET_A, base offset 0", plain(v2, NONE, 0, a));
            emit(out, "RB_V2_GZIP", "magic 2, gzip, SET_A, base offset 0", plain(v2, GZIP, 0, a));
            emit(out, "RB_V2_SNAPPY", "magic 2, snappy (xerial framing), SET_A, base offset 0", plain(v2, SNAPPY, 0, a));
            emit(out, "RB_V2_LZ4", "magic 2, lz4, SET_A, base offset 0", plain(v2, LZ4, 0, a));
            emit(out, "RB_V2_ZSTD", "magic 2, zstd, SET_A, base offset 0", plain(v2, ZSTD, 0, a));
            emit(out, "RB_V2_LOG_APPEND", "magic 2, uncompressed, LogAppendTime TS0+999, SET_A, base offset 20, partitionLeaderEpoch 5",
                 batch(v2, NONE, TimestampType.LOG_APPEND_TIME, 20, -1L, (short) -1, -1, false, 5, a));
            emit(out, "RB_V2_IDEMPOTENT_GZIP", "magic 2, gzip, SET_A, base offset 40, producerId 99, epoch 2, baseSequence 17",
                 batch(v2, GZIP, TimestampType.CREATE_TIME, 40, 99L, (short) 2, 17, false, -1, a));
            emit(out, "RB_V1_NONE", "magic 1, uncompressed, SET_A, offsets 0..4", plain(v1, NONE, 0, a0));
            emit(out, "RB_V1_GZIP", "magic 1, gzip wrapper (offset 504), inner relative offsets 0..4, SET_A, offsets 500..504", plain(v1, GZIP, 500, a0));
            emit(out, "RB_V1_SNAPPY", "magic 1, snappy wrapper, SET_A, offsets 500..504", plain(v1, SNAPPY, 500, a0));
            emit(out, "RB_V1_LZ4", "magic 1, lz4 wrapper, SET_A, offsets 500..504", plain(v1, LZ4, 500, a0));
            emit(out, "RB_V1_LOG_APPEND_GZIP", "magic 1, gzip wrapper, LogAppendTime TS0+999, SET_A, offsets 600..604",
                 batch(v1, GZIP, TimestampType.LOG_APPEND_TIME, 600, -1L, (short) -1, -1, false, -1, a0));
            emit(out, "RB_V1_LOG_APPEND_NONE", "magic 1, uncompressed, LogAppendTime TS0+999, SET_A, offsets 650..654",
                 batch(v1, NONE, TimestampType.LOG_APPEND_TIME, 650, -1L, (short) -1, -1, false, -1, a0));
            emit(out, "RB_V0_NONE", "magic 0, uncompressed, SET_A, offsets 0..4", plain(v0, NONE, 0, a0));
            emit(out, "RB_V0_GZIP", "magic 0, gzip wrapper (offset 704), inner absolute offsets 700..704, SET_A", plain(v0, GZIP, 700, a0));
            emit(out, "RB_V0_SNAPPY", "magic 0, snappy wrapper, SET_A, offsets 700..704", plain(v0, SNAPPY, 700, a0));
            emit(out, "RB_V0_LZ4", "magic 0, lz4 wrapper with the broken frame header checksum of KAFKA-3160, SET_A, offsets 800..804",
                 plain(v0, LZ4, 800, a0));
            // A transaction of producer 4242 aborted, one of producer 777 and a second one of
            // 4242 committed.
            emit(out, "RB_TXN_SET",
                 "offsets 100-101: producer 4242 epoch 3 transactional, SET_A[0..2)\n" +
                 " * offset 102: producer 777 epoch 0 transactional, SET_A[2]\n" +
                 " * offset 103: ABORT marker of 4242\n" +
                 " * offsets 104-105: producer 4242 transactional, gzip, SET_A[3..5)\n" +
                 " * offset 106: COMMIT marker of 4242; offset 107: COMMIT marker of 777",
                 cat(batch(v2, NONE, TimestampType.CREATE_TIME, 100, 4242L, (short) 3, 0, true, 0, slice(a, 0, 2)),
                     batch(v2, NONE, TimestampType.CREATE_TIME, 102, 777L, (short) 0, 0, true, 0, slice(a, 2, 3)),
                     marker(103, 4242L, (short) 3, ControlRecordType.ABORT),
                     batch(v2, GZIP, TimestampType.CREATE_TIME, 104, 4242L, (short) 3, 2, true, 0, slice(a, 3, 5)),
                     marker(106, 4242L, (short) 3, ControlRecordType.COMMIT),
                     marker(107, 777L, (short) 0, ControlRecordType.COMMIT)));
            emit(out, "RB_MIXED",
                 "SET_A five times then once more, every record once per batch: offsets 0-4 magic 0\n" +
                 " * uncompressed, 5-9 magic 1 gzip, 10-14 magic 2 uncompressed, 15-19 magic 2 zstd,\n" +
                 " * 20-24 magic 1 uncompressed, 25-29 magic 2 lz4",
                 cat(plain(v0, NONE, 0, a0), plain(v1, GZIP, 5, a0), plain(v2, NONE, 10, a),
                     plain(v2, ZSTD, 15, a), plain(v1, NONE, 20, a0), plain(v2, LZ4, 25, a)));
            out.println();
            out.println("#endif");
        }
    }

    static void expect(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("mismatch: " + what);
    }

    static void check(String path, byte magic) throws Exception {
        MemoryRecords mr = MemoryRecords.readableRecords(ByteBuffer.wrap(Files.readAllBytes(Paths.get(path))));
        SimpleRecord[] a = setA(magic >= 2);
        int i = 0, batches = 0;
        for (MutableRecordBatch batch : mr.batches()) {
            batch.ensureValid();
            expect(batch.magic() == magic, "magic " + batch.magic());
            batches++;
            for (org.apache.kafka.common.record.Record r : batch) {
                r.ensureValid();
                SimpleRecord e = a[i];
                expect(r.offset() == i, "offset " + r.offset());
                expect(r.timestamp() == (magic == 0 ? RecordBatch.NO_TIMESTAMP : e.timestamp()), "timestamp of " + i);
                expect(Objects.equals(r.key(), e.key()), "key of " + i);
                expect(Objects.equals(r.value(), e.value()), "value of " + i);
                expect(Arrays.equals(r.headers(), e.headers()), "headers of " + i);
                i++;
            }
            System.out.printf("%s: batch magic %d %s, last offset %d%n", path, batch.magic(),
                              batch.compressionType(), batch.lastOffset());
        }
        expect(i == a.length, "record count " + i);
        System.out.printf("%s: OK (%d batches, %d records)%n", path, batches, i);
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("gen")) gen(args[1]);
        else if (args[0].equals("check")) check(args[1], Byte.parseByte(args[2]));
        else throw new IllegalArgumentException(args[0]);
    }
}
