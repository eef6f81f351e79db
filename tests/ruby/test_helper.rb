# frozen_string_literal: true

# Shared set-up for the Ruby binding's tests. They run against the real broker whose bootstrap
# list is in KAFKETTE_BOOTSTRAP (script/test exports it; `script/kafka start` prints one).
require "minitest/autorun"
require "kafkette"
require "securerandom"
require "logger"
require "stringio"
require "timeout"
require "zlib"
require "socket"

BOOTSTRAP = ENV.fetch("KAFKETTE_BOOTSTRAP", "").strip
if BOOTSTRAP.empty?
  warn "tests/ruby: KAFKETTE_BOOTSTRAP is not set; start a broker (script/kafka start) and export its bootstrap list"
  exit 2
end
BROKERS = BOOTSTRAP.split(",").freeze
BROKER_HOST, BROKER_PORT = BROKERS.first.split(":").then { |h, p| [h, Integer(p, 10)] }

# Running under valgrind (rake valgrind): everything is ~30x slower.
VALGRIND = ENV["KAFKETTE_VALGRIND"] == "1"

module KafketteTest
  module_function

  def unique_topic(prefix = "t")
    "rb-#{prefix}-#{SecureRandom.hex(5)}"
  end

  def admin
    # a missing topic stays missing (a Client's metadata requests may create topics by default)
    @admin ||= Kafkette::Client.new(BROKERS, "kafkette-ruby-tests", allow_auto_topic_creation: false)
  end

  def create_topic(prefix = "t", partitions: 1)
    name = unique_topic(prefix)
    admin.create_topic(name, partitions: partitions, replication_factor: 1)
    wait_until_led(name, partitions)
    name
  end

  # A new topic's leaders are in the metadata a moment before the broker accepts writes for
  # them; with required_acks 0 a write in that moment is lost without a word. A fetch only
  # succeeds once the broker leads the partition (the consumer retries until then).
  def wait_until_led(topic, partitions)
    partitions.times do |i|
      c = Kafkette::PartitionConsumer.new("kafkette-ruby-tests", BROKER_HOST, BROKER_PORT, topic, i, :latest_offset,
                                          max_wait_ms: 0, failover_tries: 50, retry_backoff_ms: 50)
      c.fetch
      c.close
    end
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Reads a partition from the start until `count` messages arrived (or `timeout` seconds).
  def consume(topic, partition, count, timeout: 10, **options)
    consumer = Kafkette::PartitionConsumer.new("kafkette-ruby-tests", BROKER_HOST, BROKER_PORT, topic, partition,
                                               :earliest_offset, options)
    got = []
    deadline = now + timeout
    got.concat(consumer.fetch) while got.size < count && now < deadline
    got
  ensure
    consumer&.close
  end

  # The Java client's murmur2 (seed 0x9747b28c), written out in Ruby so the tests do not trust
  # the core's own implementation.
  def murmur2(data)
    bytes = data.b.bytes
    len = bytes.size
    m = 0x5bd1e995
    mask = 0xffff_ffff
    h = (0x9747b28c ^ len) & mask
    i = 0
    while len - i >= 4
      k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
      k = (k * m) & mask
      k ^= k >> 24
      k = (k * m) & mask
      h = (h * m) & mask
      h ^= k
      i += 4
    end
    rest = len - i
    h ^= bytes[i + 2] << 16 if rest >= 3
    h ^= bytes[i + 1] << 8 if rest >= 2
    if rest >= 1
      h ^= bytes[i]
      h = (h * m) & mask
    end
    h ^= h >> 13
    h = (h * m) & mask
    h ^ (h >> 15)
  end

  def murmur2_partition(key, count)
    (murmur2(key) & 0x7fff_ffff) % count
  end

  def rss_kb
    File.read("/proc/self/status")[/^VmRSS:\s+(\d+)/, 1].to_i
  end
end
