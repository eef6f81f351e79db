# frozen_string_literal: true

# The Ruby binding beside the C core, in the same run on the same broker: produce N records of
# S bytes with send_messages in calls of B messages, consume them with one PartitionConsumer,
# and run bench/producer_bench.c and consumer_bench.c (built in Release) on the same work.
#
#   ruby bench/ruby_bench.rb                      # starts its own broker; 1,000,000 x 100 B, batches of 10,000
#   ruby bench/ruby_bench.rb --runs 5 --codec lz4
#   ruby bench/ruby_bench.rb --bootstrap 127.0.0.1:9092 --records 200000
#
# Both sides: required_acks 1, no keys, one fresh one-partition topic per producer run; each
# consumer reads what its own side produced, from the earliest offset with max_bytes 4 MiB, and
# checks every offset and value. The Ruby produce clock includes building the MessageToSend
# objects (a Ruby program has to); the consume clock includes building every FetchedMessage
# and its value String.
#
# A third line per operation, "Ruby floor", times what Ruby itself charges for the objects the
# API deals in, without Kafka: on the way in one two-element Array per message (the cheapest
# object a Ruby program can make); on the way out one Struct and one fresh S-byte String per
# record, made from C (bench/ruby_floor/floor.c) one fetch's worth at a time and walked by the
# consume loop's checks. The C core's time plus that floor bounds what any binding handing
# Ruby an object per message can reach.
#
# Loads kafkette from ruby/lib (run `rake compile` first) unless it is installed as a gem.
require "optparse"
require "fileutils"
require "open3"
require "rbconfig"

ROOT = File.expand_path("..", __dir__)
LOCAL_EXT = File.join(ROOT, "ruby", "lib", "kafkette", "kafkette_ext.so")
$LOAD_PATH.unshift(File.join(ROOT, "ruby", "lib")) if File.exist?(LOCAL_EXT)
require "kafkette"

options = { records: 1_000_000, size: 100, batch: 10_000, codec: "none", runs: 3, max_bytes: 4 << 20,
            bootstrap: ENV.fetch("KAFKETTE_BOOTSTRAP", nil),
            c_bench_dir: nil }
OptionParser.new do |o|
  o.banner = "usage: ruby bench/ruby_bench.rb [options]"
  o.on("--records N", Integer) { |v| options[:records] = v }
  o.on("--size BYTES", Integer) { |v| options[:size] = v }
  o.on("--batch N", Integer, "messages per send_messages call") { |v| options[:batch] = v }
  o.on("--codec NAME", %w[none gzip snappy lz4 zstd]) { |v| options[:codec] = v }
  o.on("--runs N", Integer, "rounds; each row shows its best wall time") { |v| options[:runs] = v }
  o.on("--max-bytes N", Integer, "consumer max_bytes") { |v| options[:max_bytes] = v }
  o.on("--bootstrap LIST", "a broker you started (default: $KAFKETTE_BOOTSTRAP, else one of our own)") do |v|
    options[:bootstrap] = v
  end
  o.on("--c-bench-dir DIR", "prebuilt kafkette-{producer,consumer}_bench (default: build into build-bench/)") do |v|
    options[:c_bench_dir] = v
  end
end.parse!
%i[records size batch runs max_bytes].each do |k|
  abort "ruby_bench: --#{k.to_s.tr('_', '-')} takes a positive integer" unless options[k].positive?
end

def say(text)
  warn "==> #{text}"
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def cpu
  t = Process.times
  t.utime + t.stime
end

def commas(n)
  n.round.to_s.gsub(/\B(?=(\d{3})+\z)/, ",")
end

# Values are 1,024 windows of the C benchmarks' payload pool (bench_common.h: 64 KiB of
# xorshift32 letters 'a'..'p'; record n's value starts at (n * 97) % 65536), so codecs see the
# same kind of bytes. The C programs walk all 65,536 windows of the pool, which is one 64 KiB
# buffer for them; as 65,536 separate Strings it would be 9 MiB that the Ruby side's checks
# miss the cache on, hence 1,024 of them, reused in turn.
POOL_SIZE = 65_536
VALUE_COUNT = 1024
def payload(size)
  x = 0x9e3779b9
  bytes = Array.new(POOL_SIZE + size) do
    x ^= (x << 13) & 0xffffffff
    x ^= x >> 17
    x ^= (x << 5) & 0xffffffff
    97 + (x & 15)
  end
  pool = bytes.pack("C*")
  Array.new(VALUE_COUNT) { |i| pool.byteslice((i * 97) % POOL_SIZE, size).freeze }
end

def value_for(values, n)
  values[n % VALUE_COUNT]
end

# --- C programs ----------------------------------------------------------------------------
def c_programs(dir)
  unless dir
    dir = File.join(ROOT, "build-bench", "bench")
    build = File.dirname(dir)
    say "build the C benchmarks (Release) in #{build}"
    gen = system("command -v ninja >/dev/null 2>&1") && !File.exist?(File.join(build, "Makefile")) ? ["-G", "Ninja"] : []
    log = +""
    [["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_BUILD_TYPE=Release", "-DKAFKETTE_TESTS=OFF",
      "-DKAFKETTE_SANITIZE=OFF", "-DKAFKETTE_BENCH=ON"],
     ["cmake", "--build", build, "-j", "2", "--target", "kafkette-producer_bench", "kafkette-consumer_bench"]].each do |cmd|
      out, status = Open3.capture2e(*cmd)
      log << out
      abort "#{log}\nruby_bench: building the C benchmarks failed" unless status.success?
    end
  end
  progs = %w[producer consumer].to_h { |p| [p.to_sym, File.join(dir, "kafkette-#{p}_bench")] }
  progs.each_value { |p| abort "ruby_bench: #{p} is missing" unless File.executable?(p) }
  progs
end

def run_c(program, *args)
  out, err, status = Open3.capture3(program, *args)
  abort "#{err}ruby_bench: #{File.basename(program)} #{args.join(' ')} failed" unless status.success?
  line = out[/^RESULT .*/] or abort "ruby_bench: no RESULT line from #{program}"
  fields = line.split.drop(1).to_h { |kv| kv.split("=", 2) }
  { wall: Float(fields["wall_s"]), cpu: Float(fields["cpu_s"]) }
end

# --- the Ruby binding ----------------------------------------------------------------------
def produce(opts, brokers, topic, values)
  n = opts[:records]
  batch = opts[:batch]
  send_time = 0.0
  started = now
  cpu0 = cpu
  producer = Kafkette::Producer.new(brokers, "bench-ruby", required_acks: 1, compression_codec: opts[:codec].to_sym)
  done = 0
  while done < n
    k = [batch, n - done].min
    msgs = Array.new(k) { |i| Kafkette::MessageToSend.new(topic, value_for(values, done + i)) }
    t = now
    producer.send_messages(msgs)
    send_time += now - t
    if msgs.first.offset != done || msgs.last.offset != done + k - 1
      abort "ruby_bench: offsets #{msgs.first.offset}..#{msgs.last.offset}, expected #{done}.."
    end
    done += k
  end
  producer.close
  { wall: now - started, cpu: cpu - cpu0, inside: send_time }
end

def consume(opts, host, port, topic, values)
  n = opts[:records]
  started = now
  cpu0 = cpu
  consumer = Kafkette::PartitionConsumer.new("bench-ruby", host, port, topic, 0, :earliest_offset,
                                             max_bytes: opts[:max_bytes])
  got = 0
  fetches = 0
  fetch_time = 0.0
  while got < n
    t = now
    batch = consumer.fetch
    fetch_time += now - t
    fetches += 1 unless batch.empty?
    batch.each do |m|
      abort "ruby_bench: offset #{m.offset}, expected #{got}" unless m.offset == got
      abort "ruby_bench: record #{got} differs" unless m.value == value_for(values, got)
      got += 1
    end
  end
  consumer.close
  { wall: now - started, cpu: cpu - cpu0, inside: fetch_time, per_fetch: n / [fetches, 1].max }
end

# --- Ruby's own price for the objects (no Kafka) -------------------------------------------
# Produce: the cheapest object a Ruby program can make per message, a two-element Array.
def floor_produce(opts, topic, values)
  n = opts[:records]
  started = now
  done = 0
  while done < n
    k = [opts[:batch], n - done].min
    msgs = Array.new(k) { |i| [topic, value_for(values, done + i)] }
    abort "ruby_bench: floor batch" unless msgs.size == k
    done += k
  end
  now - started
end

# Consume: per record a Struct and a fresh String made from C (bench/ruby_floor), one fetch's
# worth at a time, walked by the consume loop's checks.
def floor_consume(opts, values, per_fetch)
  n = opts[:records]
  started = now
  got = 0
  while got < n
    batch = KafketteBenchFloor.records(values, got, [per_fetch, n - got].min)
    batch.each do |m|
      abort "ruby_bench: floor offset #{m.offset}, expected #{got}" unless m.offset == got
      abort "ruby_bench: floor record #{got} differs" unless m.value == value_for(values, got)
      got += 1
    end
  end
  now - started
end

def load_floor_extension
  dir = File.join(ROOT, "build-bench", "ruby-floor")
  FileUtils.mkdir_p(dir)
  Dir.chdir(dir) do
    steps = []
    steps << [RbConfig.ruby, File.join(ROOT, "bench", "ruby_floor", "extconf.rb")] unless File.exist?("Makefile")
    steps << ["make", "V=0"]
    steps.each do |cmd|
      out, status = Open3.capture2e(*cmd)
      abort "#{out}\nruby_bench: building bench/ruby_floor failed" unless status.success?
    end
  end
  require File.join(dir, "kafkette_bench_floor")
end

# --- run -----------------------------------------------------------------------------------
progs = c_programs(options[:c_bench_dir])
load_floor_extension
own_broker = options[:bootstrap].nil?
state = File.join(ROOT, "tests", ".kafka-rbbench")
if own_broker
  say "start a broker (state in tests/.kafka-rbbench)"
  out, err, status = Open3.capture3({ "KAFKETTE_KAFKA_DIR" => state }, File.join(ROOT, "script", "kafka"), "start", "--restart")
  abort "#{err}ruby_bench: the broker did not start" unless status.success?
  options[:bootstrap] = out.strip.lines.last.strip
end

begin
  brokers = options[:bootstrap].split(",")
  host, port = brokers.first.split(":")
  port = Integer(port, 10)
  values = payload(options[:size])
  admin = Kafkette::Client.new(brokers, "bench-ruby")
  stamp = "#{Process.pid}-#{rand(1 << 30)}"
  common = ["-b", options[:bootstrap], "-n", options[:records].to_s, "-s", options[:size].to_s]
  best = Hash.new { |h, k| h[k] = nil }
  keep = ->(key, result) { best[key] = result if best[key].nil? || result[:wall] < best[key][:wall] }
  topics = []
  new_topic = lambda do |name|
    topics << name
    admin.create_topic(name, partitions: 1, replication_factor: 1)
    name
  end

  # Round 0 warms the broker's JVM (and Ruby's heap) and is not counted.
  (0..options[:runs]).each do |round|
    say(round.zero? ? "warm-up round (not counted)" : "round #{round} of #{options[:runs]}")
    ruby_topic = new_topic.call("bench-ruby-#{stamp}-#{round}")
    c_topic = "bench-c-#{stamp}-#{round}" # producer_bench creates it
    topics << c_topic
    GC.start
    r = produce(options, brokers, ruby_topic, values)
    c = run_c(progs[:producer], *common, "-t", c_topic, "-B", options[:batch].to_s, "-c", options[:codec], "-a", "1")
    GC.start
    rc = consume(options, host, port, ruby_topic, values)
    cc = run_c(progs[:consumer], *common, "-t", c_topic, "-m", options[:max_bytes].to_s, "-c", options[:codec],
               "-o", "earliest")
    GC.start
    fp = floor_produce(options, ruby_topic, values)
    GC.start
    fc = floor_consume(options, values, rc[:per_fetch])
    next if round.zero?

    keep.call(%i[produce ruby], r)
    keep.call(%i[produce c], c)
    keep.call(%i[consume ruby], rc)
    keep.call(%i[consume c], cc)
    keep.call(%i[produce floor], { wall: fp })
    keep.call(%i[consume floor], { wall: fc })
  end
  topics.each { |t| admin.delete_topic(t) }
  admin.close
ensure
  if own_broker
    say "stop the broker"
    Open3.capture3({ "KAFKETTE_KAFKA_DIR" => state }, File.join(ROOT, "script", "kafka"), "stop")
  end
end

n = options[:records]
rss = File.read("/proc/self/status")[/^VmHWM:\s+(\d+)/, 1].to_i / 1024.0
yjit = defined?(RubyVM::YJIT) && RubyVM::YJIT.enabled? ? "on" : "off"
puts
puts format("Ruby binding beside the C core: %s records of %d bytes, batches of %s, codec %s, best of %d",
            commas(n), options[:size], commas(options[:batch]), options[:codec], options[:runs])
puts format("kafkette %s; ruby %s (YJIT %s); peak RSS of the Ruby process %.1f MiB",
            Kafkette::VERSION, RUBY_VERSION, yjit, rss)
puts
puts format("%-8s %-12s %8s %12s %9s %10s", "op", "peer", "wall s", "records/s", "CPU s/M", "vs C core")
%i[produce consume].each do |op|
  c = best[[op, :c]]
  r = best[[op, :ruby]]
  [[:ruby, "Ruby"], [:c, "C core"]].each do |peer, label|
    x = best[[op, peer]]
    puts format("%-8s %-12s %8.3f %12s %9.3f %9.2fx", op, label, x[:wall], commas(n / x[:wall]),
                x[:cpu] * 1_000_000 / n, x[:wall] / c[:wall])
  end
  extra = r[:wall] - c[:wall]
  if op == :produce
    puts format("%-8s   Ruby's extra %.3f s; inside send_messages %.3f s (%.2fx the C core's whole run)",
                op, extra, r[:inside], r[:inside] / c[:wall])
    puts format("%-8s   Ruby alone, no Kafka: one Array per message (the cheapest object) %.3f s", op, best[[op, :floor]][:wall])
  else
    puts format("%-8s   Ruby's extra %.3f s; inside fetch %.3f s (%.2fx the C core's whole run)",
                op, extra, r[:inside], r[:inside] / c[:wall])
    puts format("%-8s   Ruby alone, no Kafka: a Struct and a fresh String per record, made from C, same loop %.3f s",
                op, best[[op, :floor]][:wall])
  end
  puts
end
puts "vs C core = wall time over the C core's (the issue's target: within 1.3x). CPU s/M = CPU seconds per"
puts "million records (C rows: the C program's process). \"Ruby alone\" makes the objects the API deals in"
puts "without Kafka (#{commas(best[%i[consume ruby]][:per_fetch])} records per batch, as fetched): " \
     "what Ruby charges for them, whoever makes them."
