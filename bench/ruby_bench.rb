# frozen_string_literal: true

# Ruby binding throughput: produce N records of S bytes in send_messages calls of B messages,
# then consume them with one PartitionConsumer, and print records/s.
#
#   KAFKETTE_BOOTSTRAP=127.0.0.1:9092 ruby bench/ruby_bench.rb            # 1,000,000 x 100 B, batches of 10,000
#   ruby bench/ruby_bench.rb --records 200000 --codec lz4 --runs 3 --bootstrap 127.0.0.1:9092
#
# The work mirrors bench/producer_bench.c and consumer_bench.c: a fresh one-partition topic,
# required_acks 1, no keys, values cut from one pool of text, max_bytes 4 MiB, reading from the
# earliest offset. The produce clock starts before Producer.new and includes building the
# MessageToSend objects (a Ruby program has to); "send s" is the time inside send_messages
# alone. The consume clock starts before PartitionConsumer.new and includes building every
# FetchedMessage. Each run checks its work: offsets 0..N-1 in order, every value as sent.
# Loads kafkette from ruby/lib (after `rake compile`) unless it is installed as a gem.
require "optparse"

$LOAD_PATH.unshift(File.expand_path("../ruby/lib", __dir__)) if File.exist?(File.expand_path("../ruby/lib/kafkette/kafkette_ext.so", __dir__))
require "kafkette"

options = { records: 1_000_000, size: 100, batch: 10_000, codec: :none, runs: 1, max_bytes: 4 << 20,
            bootstrap: ENV.fetch("KAFKETTE_BOOTSTRAP", nil) }
OptionParser.new do |o|
  o.banner = "usage: ruby bench/ruby_bench.rb [options]"
  o.on("--records N", Integer) { |v| options[:records] = v }
  o.on("--size BYTES", Integer) { |v| options[:size] = v }
  o.on("--batch N", Integer, "messages per send_messages call") { |v| options[:batch] = v }
  o.on("--codec NAME", %w[none gzip snappy lz4 zstd]) { |v| options[:codec] = v.to_sym }
  o.on("--runs N", Integer, "repeat; the table shows the best wall time") { |v| options[:runs] = v }
  o.on("--max-bytes N", Integer, "consumer max_bytes") { |v| options[:max_bytes] = v }
  o.on("--bootstrap LIST", "host:port[,...] (default: $KAFKETTE_BOOTSTRAP)") { |v| options[:bootstrap] = v }
end.parse!
abort "ruby_bench: give --bootstrap or KAFKETTE_BOOTSTRAP (script/kafka start prints one)" unless options[:bootstrap]

BROKERS = options[:bootstrap].split(",")
HOST, PORT = BROKERS.first.split(":")

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def cpu
  t = Process.times
  t.utime + t.stime
end

def rss_mib
  File.read("/proc/self/status")[/^VmHWM:\s+(\d+)/, 1].to_i / 1024.0
end

# 1024 distinct values cut from one pool of text, so codecs have something to do.
def values(size)
  pool = "kafkette benchmark payload: the quick brown fox jumps over the lazy dog 0123456789 " * 2000
  Array.new(1024) { |i| pool.byteslice((i * 97) % (pool.bytesize - size), size).b.freeze }
end

def produce(opts, topic, vals)
  n = opts[:records]
  batch = opts[:batch]
  send_time = 0.0
  started = now
  cpu0 = cpu
  producer = Kafkette::Producer.new(BROKERS, "bench-ruby", required_acks: 1, compression_codec: opts[:codec])
  done = 0
  while done < n
    k = [batch, n - done].min
    msgs = Array.new(k) { |i| Kafkette::MessageToSend.new(topic, vals[(done + i) & 1023]) }
    t = now
    producer.send_messages(msgs)
    send_time += now - t
    if msgs.first.offset != done || msgs.last.offset != done + k - 1
      abort "ruby_bench: offsets #{msgs.first.offset}..#{msgs.last.offset}, expected #{done}.."
    end
    done += k
  end
  producer.close
  [now - started, cpu - cpu0, send_time]
end

def consume(opts, topic, vals)
  n = opts[:records]
  started = now
  cpu0 = cpu
  consumer = Kafkette::PartitionConsumer.new("bench-ruby", HOST, Integer(PORT, 10), topic, 0, :earliest_offset,
                                             max_bytes: opts[:max_bytes])
  got = 0
  first = nil
  while got < n
    batch = consumer.fetch
    first ||= now - started unless batch.empty?
    batch.each do |m|
      abort "ruby_bench: offset #{m.offset}, expected #{got}" unless m.offset == got
      abort "ruby_bench: record #{got} differs" unless m.value == vals[got & 1023]
      got += 1
    end
  end
  consumer.close
  [now - started, cpu - cpu0, first]
end

vals = values(options[:size])
admin = Kafkette::Client.new(BROKERS, "bench-ruby")
rows = []
options[:runs].times do
  topic = "bench-ruby-#{Process.pid}-#{rand(1 << 30)}"
  admin.create_topic(topic, partitions: 1, replication_factor: 1)
  GC.start
  rows << [:produce, *produce(options, topic, vals)]
  GC.start
  rows << [:consume, *consume(options, topic, vals)]
  admin.delete_topic(topic)
end
admin.close

n = options[:records]
puts format("Ruby binding (kafkette %s, ruby %s): %s records of %d bytes, batches of %s, codec %s, best of %d",
            Kafkette::VERSION, RUBY_VERSION, n.to_s.gsub(/\B(?=(\d{3})+\z)/, ","), options[:size],
            options[:batch].to_s.gsub(/\B(?=(\d{3})+\z)/, ","), options[:codec], options[:runs])
puts format("%-8s %-6s %8s %12s %14s %-22s", "op", "codec", "wall s", "records/s", "CPU s/M recs", "detail")
%i[produce consume].each do |op|
  wall, cpu_s, extra = rows.select { |r| r[0] == op }.map { |r| r[1..] }.min_by(&:first)
  detail = op == :produce ? format("in send_messages %.3f s", extra) : format("first records %.3f s", extra || 0)
  puts format("%-8s %-6s %8.3f %12s %14.3f %-22s", op, options[:codec], wall,
              (n / wall).round.to_s.gsub(/\B(?=(\d{3})+\z)/, ","), cpu_s * 1_000_000 / n, detail)
end
puts format("peak RSS %.1f MiB", rss_mib)
# The same key=value RESULT lines as bench/producer_bench.c and consumer_bench.c print, for bench/run.
%i[produce consume].each do |op|
  wall, cpu_s, extra = rows.select { |r| r[0] == op }.map { |r| r[1..] }.min_by(&:first)
  setting = op == :produce ? "send_batch=#{options[:batch]},send_s=#{format('%.6f', extra)}" : "max_bytes=#{options[:max_bytes]},from=earliest"
  puts format("RESULT peer=kafkette-ruby op=%s codec=%s setting=%s records=%d value_bytes=%d wall_s=%.6f cpu_s=%.6f " \
              "maxrss_kb=%d first_s=%.6f", op, options[:codec], setting, n, options[:size], wall, cpu_s,
              (rss_mib * 1024).round, op == :consume ? (extra || 0) : 0)
end
