# frozen_string_literal: true

require "test_helper"

# Objects made before Process.fork and used in parent and child at the same time
# (docs/BINDINGS.md, "After fork()"): the child closes the connections it inherited and
# connects again, so neither process reads the other's responses (no correlation or malformed
# response errors, nothing lost), and a group member in the child joins as a new member.
class TestFork < Minitest::Test
  include KafketteTest

  PER_PROCESS = 1_000
  GROUP_OPTIONS = { session_timeout_ms: 6_000, heartbeat_interval_ms: 1_000, rebalance_timeout_ms: 10_000 }.freeze

  # Runs the block in a child and in the parent at once; returns [parent's result, child's].
  # The child reports its result (or the exception it raised) through a pipe.
  def in_both_processes
    reader, writer = IO.pipe
    pid = Process.fork do
      reader.close
      result = begin
        [:ok, yield("child")]
      rescue Exception => e # rubocop:disable Lint/RescueException
        [:error, "#{e.class}: #{e.message}\n#{e.backtrace.first(5).join("\n")}"]
      end
      writer.write(Marshal.dump(result))
      writer.close
      exit!(0) # no at_exit hooks (minitest) in the child
    end
    writer.close
    mine = yield("parent")
    child = Marshal.load(reader.read) # rubocop:disable Security/MarshalLoad
    Process.wait(pid)
    flunk "the child failed: #{child[1]}" unless child[0] == :ok
    [mine, child[1]]
  ensure
    reader&.close
  end

  def test_producer_and_partition_consumer_made_before_fork
    topic = create_topic("fork")
    producer = Kafkette::Producer.new(BROKERS, "fork", required_acks: 1)
    producer.send_messages([Kafkette::MessageToSend.new(topic, "before")]) # connected before the fork
    consumer = Kafkette::PartitionConsumer.new("fork", BROKER_HOST, BROKER_PORT, topic, 0, :earliest_offset,
                                               max_wait_ms: 100)
    consumer.connect
    expected = %w[parent child].flat_map { |who| Array.new(PER_PROCESS) { |i| "#{who}-#{i}" } } << "before"

    parent, child = in_both_processes do |who|
      PER_PROCESS.step(0, -50).drop(1).reverse_each do |base|
        producer.send_messages(Array.new(50) { |i| Kafkette::MessageToSend.new(topic, "#{who}-#{base + i}") })
      end
      seen = []
      deadline = now + 60
      seen.concat(consumer.fetch.map { |m| [m.offset, m.value] }) while seen.size < expected.size && now < deadline
      seen
    end
    [parent, child].each do |seen|
      assert_equal expected.sort, seen.map(&:last).sort, "every message once, in both processes"
      assert_equal (0...expected.size).to_a, seen.map(&:first)
    end
  ensure
    producer&.close
    consumer&.close
  end

  def test_consumer_group_member_made_before_fork
    topic = create_topic("fork-group", partitions: 2)
    feed = Kafkette::Producer.new(BROKERS, "fork-feed", required_acks: 1)
    2.times do |part|
      feed.send_messages(Array.new(PER_PROCESS) { |i| Kafkette::MessageToSend.new(topic, i.to_s, nil, partition: part) })
    end
    feed.close
    group = Kafkette::ConsumerGroup.new(group_name = "rb-fork-#{SecureRandom.hex(4)}", BROKERS, topic, GROUP_OPTIONS)
    group.join
    parent_id = group.member_id
    assert_equal [0, 1], group.claimed

    parent, child = in_both_processes do |_who|
      seen = { 0 => [], 1 => [] }
      deadline = now + 60
      # until this member owns one partition and everything in it was read and committed
      until (group.claimed.size == 1 && group.committed_offset(group.claimed.first) == PER_PROCESS) || now > deadline
        group.fetch(timeout_ms: 200) { |part, messages| seen[part].concat(messages.map(&:offset)) }
      end
      [group.member_id, group.claimed, seen]
    end
    assert_equal parent_id, parent[0], "the parent stays the member it was"
    refute_equal parent_id, child[0], "the child joined as a new member"
    refute_empty child[0]
    assert_equal [1, 1], [parent[1].size, child[1].size], "one partition each"
    assert_equal [0, 1], (parent[1] + child[1]).sort
    [0, 1].each do |part|
      got = (parent[2][part] + child[2][part]).uniq.sort
      assert_equal (0...PER_PROCESS).to_a, got, "partition #{part}: nothing lost (#{group_name})"
    end
  ensure
    group&.close
  end
end
