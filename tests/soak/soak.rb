# frozen_string_literal: true

# Soak through the Ruby binding: a producer and a consumer group run for --minutes while the
# process samples its RSS and open file descriptors every --every seconds. Prints the curve and
# exits 1 when either grows after the warm-up (RSS by more than --rss-slack-kb, fds at all).
# Run by script/soak.
require "optparse"
require "securerandom"
require "kafkette"

opts = { bootstrap: ENV.fetch("KAFKETTE_BOOTSTRAP", ""), minutes: 10.0, every: 10.0, warmup: 30.0, slack: 4096,
         rate: 5000 }
OptionParser.new do |o|
  o.on("--bootstrap LIST") { |v| opts[:bootstrap] = v }
  o.on("--minutes N", Float) { |v| opts[:minutes] = v }
  o.on("--every S", Float) { |v| opts[:every] = v }
  o.on("--warmup S", Float) { |v| opts[:warmup] = v }
  o.on("--rss-slack-kb N", Integer) { |v| opts[:slack] = v }
  o.on("--rate N", Integer, "messages per second to produce") { |v| opts[:rate] = v }
end.parse!

def rss_kb
  File.foreach("/proc/self/status") { |l| return l.split[1].to_i if l.start_with?("VmRSS:") }
  -1
end

def fd_count
  Dir.children("/proc/self/fd").size
end

brokers = opts[:bootstrap].split(",")
topic = "soak-rb-#{SecureRandom.hex(6)}"
client = Kafkette::Client.new(brokers, "soak-admin")
client.create_topic(topic, partitions: 3)
client.close
counts = { sent: 0, received: 0, errors: 0 }
stop = false

producer = Thread.new do
  p = Kafkette::Producer.new(brokers, "soak-producer", compression_codec: :lz4)
  n = 0
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  until stop
    msgs = Array.new(500) { |i| Kafkette::MessageToSend.new(topic, "x" * 200, (n + i).to_s) }
    begin
      p.send_messages(msgs)
      counts[:sent] += msgs.size
    rescue Kafkette::Error => e
      counts[:errors] += 1
      warn "soak: send: #{e.message}"
    end
    n += msgs.size
    # a steady load, not a throughput test: the disk fills otherwise
    pause = n.fdiv(opts[:rate]) - (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
    sleep pause if pause.positive?
  end
  p.close
end

consumer = Thread.new do
  group = Kafkette::ConsumerGroup.new("soak-#{topic}", brokers, topic)
  until stop
    begin
      group.fetch(timeout_ms: 500) { |_partition, messages| counts[:received] += messages.size }
    rescue Kafkette::Error => e
      counts[:errors] += 1
      warn "soak: fetch: #{e.message}"
    end
  end
  group.close
end

start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
samples = []
puts format("ruby soak: %.1f min on %s", opts[:minutes], topic)
puts format("%8s %10s %6s %12s %12s", "seconds", "rss_kb", "fds", "sent", "received")
begin
  while Process.clock_gettime(Process::CLOCK_MONOTONIC) - start < opts[:minutes] * 60
    sleep opts[:every]
    s = [Process.clock_gettime(Process::CLOCK_MONOTONIC) - start, rss_kb, fd_count, counts[:sent], counts[:received]]
    samples << s
    puts format("%8.0f %10d %6d %12d %12d", *s)
    $stdout.flush
  end
ensure
  stop = true
  [producer, consumer].each(&:join)
end
after = samples.select { |s| s[0] >= opts[:warmup] }
after = samples if after.empty?
base = after.first
last = after.last
growth = last[1] - base[1]
fd_growth = after.map { |s| s[2] }.max - base[2]
ok = growth <= opts[:slack] && fd_growth <= 0 && counts[:received].positive?
puts format("ruby soak: RSS %d -> %d kB (%+d), fds %d -> %d, sent %d, received %d, errors %d: %s",
            base[1], last[1], growth, base[2], last[2], counts[:sent], counts[:received], counts[:errors],
            ok ? "flat" : "GROWING")
exit(ok ? 0 : 1)
