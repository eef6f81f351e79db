# frozen_string_literal: true

require "test_helper"

# KIP-848 consumer groups from Ruby: group_protocol: :consumer goes through the core's option
# table like every option; two members share the partitions without stopping each other.
class TestGroupKip848 < Minitest::Test
  include KafketteTest

  def setup
    @groups = []
  end

  def teardown
    @groups.each { |g| g.close unless g.closed? }
  end

  def new_group(name, topic, **options)
    g = Kafkette::ConsumerGroup.new(name, BROKERS, topic, group_protocol: :consumer, **options)
    @groups << g
    g
  end

  def produce(topic, partitions, per_partition)
    producer = Kafkette::Producer.new(BROKERS, "rb-kip848")
    producer.send_messages((0...partitions).flat_map do |p|
      (0...per_partition).map { |i| Kafkette::MessageToSend.new(topic, "#{p}-#{i}", nil, partition: p) }
    end)
  ensure
    producer&.close
  end

  def test_bad_values_are_refused_by_the_table
    topic = create_topic("kip848-bad")
    error = assert_raises(Kafkette::Errors::InvalidArgumentError) do
      Kafkette::ConsumerGroup.new("rb-kip848-#{SecureRandom.hex(4)}", BROKERS, topic, group_protocol: :next)
    end
    assert_match(/group_protocol/, error.message)
  end

  def test_two_members_share_and_consume_everything_once
    topic = create_topic("kip848", partitions: 4)
    produce(topic, 4, 10)
    name = "rb-kip848-#{SecureRandom.hex(5)}"
    seen = []
    g1 = new_group(name, topic, group_remote_assignor: "range", group_instance_id: "rb-one")
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
    until g1.claimed.size == 4 || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      g1.fetch(timeout_ms: 100) { |p, msgs| msgs.each { |m| seen << [p, m.offset] } }
    end
    assert_equal [0, 1, 2, 3], g1.claimed
    g2 = new_group(name, topic)
    until (g1.claimed.size == 2 && g2.claimed.size == 2 && seen.size >= 40) ||
          Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline + 30
      [g1, g2].each { |g| g.fetch(timeout_ms: 50) { |p, msgs| msgs.each { |m| seen << [p, m.offset] } } }
    end
    assert_equal [0, 1, 2, 3], (g1.claimed + g2.claimed).sort
    assert_equal (0...4).flat_map { |p| (0...10).map { |o| [p, o] } }, seen.sort
  end
end
