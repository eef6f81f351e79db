# frozen_string_literal: true

require "test_helper"

# ConsumerGroup#pause, #resume, #seek and #paused, with both group protocols: a paused partition
# is not fetched, a sought one starts at the sought offset.
class TestGroupPause < Minitest::Test
  include KafketteTest

  def produce(topic, partitions, per_partition)
    producer = Kafkette::Producer.new(BROKERS, "rb-pause")
    producer.send_messages((0...partitions).flat_map do |p|
      (0...per_partition).map { |i| Kafkette::MessageToSend.new(topic, "#{p}-#{i}", nil, partition: p) }
    end)
  ensure
    producer&.close
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # the first offset of each partition's batches until the deadline (or until `until_parts` seen)
  def first_offsets(group, seconds, until_parts: nil)
    first = {}
    deadline = now + seconds
    while now < deadline && (until_parts.nil? || !(until_parts - first.keys).empty?)
      group.fetch(commit: false, timeout_ms: 200) { |p, msgs| first[p] ||= msgs.first.offset }
    end
    first
  end

  def pause_resume_seek(protocol)
    topic = create_topic("pause-#{protocol}", partitions: 2)
    produce(topic, 2, 10)
    group = Kafkette::ConsumerGroup.new("rb-pause-#{SecureRandom.hex(5)}", BROKERS, topic,
                                        group_protocol: protocol, auto_commit_interval_ms: 0)
    seen = 0
    deadline = now + 30
    group.fetch(timeout_ms: 200) { |_p, msgs| seen += msgs.size } while seen < 20 && now < deadline
    assert_equal 20, seen
    assert_equal [], group.paused
    group.pause(0)
    group.seek(topic, 1, 3)
    assert_equal [0], group.paused
    assert_raises(Kafkette::Errors::NotAssignedError) { group.pause(5) }
    assert_raises(ArgumentError) { group.seek(1, -1) }
    produce(topic, 2, 1) # offset 10 in both partitions
    assert_equal({ 1 => 3 }, first_offsets(group, 2)) # partition 0 is paused
    group.resume(topic, 0)
    assert_equal [], group.paused
    assert_equal({ 0 => 10 }, first_offsets(group, 10, until_parts: [0]))
  ensure
    group&.close
  end

  def test_classic
    pause_resume_seek(:classic)
  end

  def test_consumer_protocol
    pause_resume_seek(:consumer)
  end
end
