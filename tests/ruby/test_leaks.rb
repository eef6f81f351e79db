# frozen_string_literal: true

require "test_helper"

# Create/send/fetch/close cycles keep the process's resident size flat (read from
# /proc/self/status). KAFKETTE_LEAK_CYCLES=100000 for the long run; the default keeps the
# suite quick. Values are 4 KiB so a leaked request or response buffer would show at once.
class TestLeaks < Minitest::Test
  include KafketteTest

  CYCLES = Integer(ENV.fetch("KAFKETTE_LEAK_CYCLES", "20000"), 10)
  # Full cycles open two connections each; each closed connection leaves a TIME_WAIT socket,
  # so there are fewer of those than of the others.
  CONNECT_CYCLES = [CYCLES / 20, 1000].max
  VALUE = ("0123456789abcdef" * 256).freeze

  def measure(label, cycles, &)
    warmup = [cycles / 10, 1].max
    warmup.times(&)
    GC.start
    start = rss_kb
    half = nil
    (warmup...cycles).each do |i|
      yield i
      if i == (warmup + cycles) / 2
        GC.start
        half = rss_kb
      end
    end
    GC.start
    finish = rss_kb
    growth = finish - start
    second_half = finish - half
    puts format("\n  %-34s %7d cycles  RSS %6d -> %6d kB (+%d; second half +%d)", label, cycles, start, finish,
                growth, second_half)
    per_cycle = growth * 1024.0 / (cycles - warmup)
    assert_operator growth, :<, 8 * 1024, "#{label}: RSS grew #{growth} kB (#{per_cycle.round} bytes/cycle)"
    assert_operator second_half, :<, 4 * 1024, "#{label}: RSS still growing (#{second_half} kB in the second half)"
  end

  def test_send_and_fetch_cycles
    topic = create_topic("leak")
    producer = Kafkette::Producer.new(BROKERS, "leak", required_acks: 1, compression_codec: :lz4)
    consumer = Kafkette::PartitionConsumer.new("leak", BROKER_HOST, BROKER_PORT, topic, 0, :earliest_offset,
                                               max_wait_ms: 0)
    measure("create/send/fetch/close", CYCLES) do |i|
      # objects made and dropped every cycle (closed, or left to the GC every other time)
      p = Kafkette::Producer.new(BROKERS, "leak-#{i}", compression_codec: :gzip)
      c = Kafkette::PartitionConsumer.new("leak", BROKER_HOST, BROKER_PORT, topic, 0, i)
      if i.even?
        p.close
        c.close
      end
      msgs = [Kafkette::MessageToSend.new(topic, VALUE, "key-#{i}", headers: { "n" => i.to_s }),
              Kafkette::MessageToSend.new(topic, VALUE)]
      producer.send_messages(msgs)
      got = consumer.fetch
      raise "fetched nothing" if got.empty? && i.zero?
    end
    assert_operator consumer.next_offset, :>, CYCLES
    producer.close
    consumer.close
  end

  def test_connect_cycles
    topic = create_topic("leak-connect")
    measure("connect/send/fetch/close", CONNECT_CYCLES) do |i|
      p = Kafkette::Producer.new(BROKERS, "leak", required_acks: 1)
      p.send_messages([Kafkette::MessageToSend.new(topic, VALUE)])
      c = Kafkette::PartitionConsumer.new("leak", BROKER_HOST, BROKER_PORT, topic, 0, -1, max_wait_ms: 0)
      raise "fetched nothing" if c.fetch.empty?

      p.close
      c.close unless i % 3 == 0 # the rest to the GC
    end
  end

  def test_error_paths
    topic = create_topic("leak-errors")
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    producer = Kafkette::Producer.new(BROKERS, "leak", required_acks: 1)
    bad = Kafkette::MessageToSend.new(topic, VALUE, nil, partition: 5)
    measure("raising calls", CYCLES / 4) do
      begin
        producer.send_messages([Kafkette::MessageToSend.new(topic, VALUE), bad]) # partial failure
      rescue Kafkette::Errors::InvalidPartitionError
        nil
      end
      begin
        producer.send_messages([Kafkette::MessageToSend.new(topic, VALUE), 42]) # TypeError before sending
      rescue TypeError
        nil
      end
      c = Kafkette::PartitionConsumer.new("leak", "127.0.0.1", port, topic, 0, 0, failover_tries: 0)
      begin
        c.fetch # refused
      rescue Kafkette::Errors::ConnectionFailedError
        nil
      end
      begin
        Timeout.timeout(0.0001) { c.fetch }
      rescue Timeout::Error, Kafkette::Errors::ConnectionFailedError
        nil
      end
    end
    producer.close
  end
end
