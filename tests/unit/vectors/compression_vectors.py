"""Regenerates tests/unit/vectors/compression_vectors.h (the arrays; the header comment is by hand).

Needs: pip install python-snappy lz4 zstandard; gzip, lz4 and zstd on PATH; and, in the current
directory, javabig_{gzip,snappy,lz4,zstd}.bin made by CompressionVectors.java from BIG:
    javac -cp <kafka-clients 3.9.1 + snappy-java + lz4-java + zstd-jni jars> CompressionVectors.java
    java -cp ...:. CompressionVectors enc <codec> big.bin javabig_<codec>.bin
(`dec` mode decodes with Kafka's own readers, to check what we write.)
"""
import gzip, zlib, struct, subprocess, sys
import snappy, lz4.frame, zstandard

TEXT = b'Kafka stores records in batches; a batch may be compressed as a whole. ' * 4
assert len(TEXT) == 284
BIG = (TEXT * 141)[:40000]
open('big.bin', 'wb').write(BIG)

def xerial(blocks):
    # Kafka's Java producer: org.xerial SnappyOutputStream framing
    out = b'\x82SNAPPY\x00' + struct.pack('>ii', 1, 1)
    for b in blocks:
        c = snappy.compress(b)
        out += struct.pack('>i', len(c)) + c
    return out

def zstd_stream(data):
    co = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
    return co.compress(data) + co.flush()

def cli(args):
    return subprocess.run(args, input=TEXT, stdout=subprocess.PIPE, check=True).stdout

vecs = [
    ('py_gzip', 'python3 gzip.compress(TEXT, mtime=0)', gzip.compress(TEXT, mtime=0)),
    ('py_zlib', 'python3 zlib.compress(TEXT) (zlib wrapper, not gzip)', zlib.compress(TEXT)),
    ('py_gzip_two_members', 'python3 gzip.compress(TEXT[:100], mtime=0) + gzip.compress(TEXT[100:], mtime=0)',
     gzip.compress(TEXT[:100], mtime=0) + gzip.compress(TEXT[100:], mtime=0)),
    ('cli_gzip', 'gzip -c -n < TEXT (GNU gzip)', cli(['gzip', '-c', '-n'])),
    ('py_snappy_raw', 'python-snappy snappy.compress(TEXT)', snappy.compress(TEXT)),
    ('py_snappy_xerial', 'xerial header + int32 BE length-prefixed python-snappy blocks of TEXT[:150], TEXT[150:]',
     xerial([TEXT[:150], TEXT[150:]])),
    ('py_lz4_default', 'python lz4.frame.compress(TEXT) (linked blocks, content size)', lz4.frame.compress(TEXT)),
    ('py_lz4_checksums', 'python lz4.frame.compress(TEXT, block_linked=False, block_checksum=True, content_checksum=True)',
     lz4.frame.compress(TEXT, block_linked=False, block_checksum=True, content_checksum=True)),
    ('cli_lz4', 'lz4 -c < TEXT (lz4 CLI, streamed: no content size)', cli(['lz4', '-c'])),
    ('py_zstd', 'python zstandard.ZstdCompressor(level=3).compress(TEXT) (content size, no checksum)',
     zstandard.ZstdCompressor(level=3).compress(TEXT)),
    ('py_zstd_stream', 'python zstandard compressobj(write_checksum=True) (no content size)', zstd_stream(TEXT)),
    ('cli_zstd', 'zstd -c < TEXT (zstd CLI, streamed)', cli(['zstd', '-q', '-c'])),
]
for name in ['gzip', 'snappy', 'lz4', 'zstd']:
    vecs.append(('java_' + name, 'kafka-clients 3.9.1 Compression.%s().build().wrapForOutput(.., magic 2) over BIG' % name,
                 open('javabig_%s.bin' % name, 'rb').read()))

for name, how, data in vecs:
    print('/* %s */' % how)
    print('static const uint8_t V_%s[%d] = {' % (name.upper(), len(data)))
    for i in range(0, len(data), 16):
        print('    ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',')
    print('};')
