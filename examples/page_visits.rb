#!/usr/bin/env ruby
# frozen_string_literal: true

# The page-visits example: produce visits "<epoch_ms>,www.example.com,<ip>" keyed by the
# visitor's IP with a custom partitioner (last octet % partition count), then let a group of
# three consumer processes share the topic's partitions and count visits per IP. The parent
# merges their counts, prints the table and checks that every visit was counted exactly once.
#
#   ruby -Iruby/lib examples/page_visits.rb [--visits 100000] [--bootstrap host:port]
#
# The broker comes from --bootstrap, else KAFKA_BOOTSTRAP, else localhost:9092. Each run uses
# a new topic (printed). Progress goes to stderr, the results to stdout.
require "kafkette"
require "json"
require "optparse"
require "securerandom"

PARTITIONS = 5
CONSUMERS = 3

# The partitioner of the original example: visits from one IP go to one partition.
class SimplePartitioner
  def call(key, partition_count)
    Integer(key.split(".").last, 10) % partition_count
  end
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def progress(text)
  warn "page_visits: #{text}"
end

# One consumer process: reports its claims ("claimed 0,3") and progress ("consumed 250") on
# `out`; on SIGTERM it leaves the group and writes its counts as one JSON line.
def run_consumer(index, group_name, brokers, topic, out)
  group = Kafkette::ConsumerGroup.new(group_name, brokers, topic,
                                      client_id: "page-visits-#{index}", session_timeout_ms: 6000, heartbeat_interval_ms: 1000)
  trap("TERM") { group.close }
  counts = Hash.new(0)
  seen = Hash.new { |h, k| h[k] = [] } # partition => offsets
  last_claimed = nil
  until group.closed?
    group.fetch(timeout_ms: 200) do |partition, messages|
      messages.each do |m|
        counts[m.value.split(",", 3)[2]] += 1
        seen[partition] << m.offset
      end
      out.puts "consumed #{messages.size}"
    end
    claimed = group.claimed
    if claimed != last_claimed && !group.closed?
      out.puts "claimed #{claimed.join(',')}"
      last_claimed = claimed
    end
  end
  out.puts JSON.generate("result" => { "counts" => counts, "seen" => seen })
  out.flush
end

options = { visits: 100_000, bootstrap: ENV["KAFKA_BOOTSTRAP"] || "localhost:9092" }
OptionParser.new do |o|
  o.banner = "usage: page_visits.rb [--visits N] [--bootstrap host:port,...]"
  o.on("--visits N", Integer, "visits to produce (100000)") { |v| options[:visits] = v }
  o.on("--bootstrap LIST", "brokers (KAFKA_BOOTSTRAP, else localhost:9092)") { |v| options[:bootstrap] = v }
end.parse!
abort "page_visits: --visits must be positive" unless options[:visits].positive?
visits = options[:visits]
brokers = options[:bootstrap].split(",")
run_id = SecureRandom.hex(4)
topic = "page_visits_#{run_id}"
group_name = "page_visits_counter_#{run_id}"

admin = Kafkette::Client.new(brokers, "page-visits-admin")
admin.create_topic(topic, partitions: PARTITIONS, replication_factor: 1)
admin.close
puts "topic: #{topic} (#{PARTITIONS} partitions), group: #{group_name}"
$stdout.flush

# The consumers join first, so the group is settled before the visits arrive.
children = (0...CONSUMERS).map do |i|
  r, w = IO.pipe
  pid = fork do
    r.close
    w.sync = true
    run_consumer(i, group_name, brokers, topic, w)
    exit!(0)
  end
  w.close
  { index: i, pid: pid, io: r, claimed: nil, consumed: 0, result: nil }
end
lines = Queue.new
readers = children.map do |c|
  Thread.new { c[:io].each_line { |l| lines << [c, l] } }
end

handle = lambda do |c, line|
  case line
  when /\Aclaimed (.*)$/ then c[:claimed] = Regexp.last_match(1).split(",").map(&:to_i)
  when /\Aconsumed (\d+)$/ then c[:consumed] += Integer(Regexp.last_match(1), 10)
  when /\A\{/ then c[:result] = JSON.parse(line)["result"]
  end
end
wait_for = lambda do |what, timeout, &done|
  deadline = monotonic + timeout
  until done.call
    abort "page_visits: timed out waiting for #{what}" if monotonic > deadline
    begin
      handle.call(*lines.pop(true))
    rescue ThreadError
      sleep 0.02
    end
  end
end

progress "waiting for #{CONSUMERS} consumers to share the #{PARTITIONS} partitions"
wait_for.call("the group to form", 60) do
  children.all? { |c| c[:claimed]&.any? } && children.sum { |c| c[:claimed].size } == PARTITIONS
end

started = monotonic
producer = Kafkette::Producer.new(brokers, "page-visits", partitioner: SimplePartitioner.new)
produced = 0
while produced < visits
  batch = [1000, visits - produced].min
  messages = Array.new(batch) do
    ip = "192.168.2.#{rand(255)}"
    Kafkette::MessageToSend.new(topic, "#{(Time.now.to_f * 1000).to_i},www.example.com,#{ip}", ip)
  end
  producer.send_messages(messages)
  produced += batch
  progress "produced #{produced}/#{visits}" if (produced % 10_000).zero? || produced == visits
end
producer.close
progress format("produced %d visits in %.1f s", visits, monotonic - started)

reported = 0
wait_for.call("every visit to be consumed", 120) do
  total = children.sum { |c| c[:consumed] }
  if total >= reported + 10_000 || (total >= visits && reported < visits)
    progress "consumed #{total}/#{visits}"
    reported = total
  end
  total >= visits
end
children.each { |c| Process.kill("TERM", c[:pid]) }
wait_for.call("the consumers' results", 60) { children.all? { |c| c[:result] } }
children.each { |c| Process.wait(c[:pid]) }
readers.each(&:join)
progress format("consumed in %.1f s", monotonic - started)

# Merge and check.
counts = Hash.new(0)
per_partition = Hash.new(0)
offsets_seen = {}
duplicates = 0
children.each do |c|
  c[:result]["counts"].each { |ip, n| counts[ip] += n }
  c[:result]["seen"].each do |partition, offsets|
    per_partition[Integer(partition, 10)] += offsets.size
    offsets.each { |o| offsets_seen[[partition, o]] ? duplicates += 1 : offsets_seen[[partition, o]] = true }
  end
end
total = counts.values.sum

puts
puts "top 20 IPs by visits:"
counts.sort_by { |ip, n| [-n, ip.split(".").map(&:to_i)] }.first(20).each do |ip, n|
  puts format("  %-15s %6d", ip, n)
end
puts "distinct IPs: #{counts.size}"
children.each do |c|
  parts = c[:result]["seen"].keys.map(&:to_i).sort
  puts "consumer #{c[:index]}: #{c[:result]['counts'].values.sum} visits (partitions #{parts.join(',')})"
end
per_partition.keys.sort.each { |p| puts "partition #{p}: #{per_partition[p]} visits" }
puts "total visits counted: #{total} of #{visits}"
if total == visits && duplicates.zero?
  puts "every visit counted exactly once"
else
  puts "MISMATCH: #{total} counted for #{visits} produced, #{duplicates} (partition, offset) seen twice"
  exit 1
end
