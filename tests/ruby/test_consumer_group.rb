# frozen_string_literal: true

require "test_helper"
require "rbconfig"
require "open3"

# Kafkette::ConsumerGroup against the real broker. The session timeout is the broker's minimum
# (6 s, group.min.session.timeout.ms) to keep the failover test short.
class TestConsumerGroup < Minitest::Test
  include KafketteTest

  SESSION_MS = 6000
  GROUP_OPTIONS = { session_timeout_ms: SESSION_MS, heartbeat_interval_ms: 1000, rebalance_timeout_ms: 10_000 }.freeze
  PROMPT = VALGRIND ? 3.0 : 0.5
  ROOT = File.expand_path("../..", __dir__)

  # A member process: prints "claimed <partitions>" whenever its claims change and
  # "got <partition> <offset>" for every record, committing after each batch.
  MEMBER = <<~'RUBY'
    STDOUT.sync = true
    group_name, brokers, topic, session_ms = ARGV
    group = Kafkette::ConsumerGroup.new(group_name, brokers, topic, session_timeout_ms: Integer(session_ms),
                                        heartbeat_interval_ms: 1000, rebalance_timeout_ms: 10_000)
    trap("TERM") { group.close }
    last = nil
    until group.closed?
      group.fetch(timeout_ms: 200) do |partition, messages|
        messages.each { |m| puts "got #{partition} #{m.offset}" }
      end
      claimed = group.claimed
      puts "claimed #{claimed.join(',')}" if claimed != last && !group.closed?
      last = claimed
    end
  RUBY

  def setup
    @groups = []
    @pids = []
  end

  def teardown
    @groups.each do |g|
      g.close
    rescue StandardError
      nil
    end
    @pids.each do |pid|
      Process.kill("KILL", pid)
    rescue Errno::ESRCH
      nil
    ensure
      Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
    end
  end

  def group_name
    "rb-group-#{SecureRandom.hex(5)}"
  end

  def new_group(name, topics, **options)
    g = Kafkette::ConsumerGroup.new(name, BROKERS, topics, GROUP_OPTIONS.merge(options))
    @groups << g
    g
  end

  def produce(topic, partitions, per_partition, first: 0)
    producer = Kafkette::Producer.new(BROKERS, "rb-group-tests")
    msgs = (0...partitions).flat_map do |p|
      (first...first + per_partition).map { |i| Kafkette::MessageToSend.new(topic, "p#{p}-#{i}", nil, partition: p) }
    end
    producer.send_messages(msgs)
  ensure
    producer&.close
  end

  # The -I options that make a child process load the same kafkette as this one (the installed
  # gem under script/test, ruby/lib under rake).
  def load_path_args
    lib = File.dirname($LOADED_FEATURES.grep(%r{/kafkette\.rb\z}).first)
    ext = File.dirname($LOADED_FEATURES.grep(%r{/kafkette/kafkette_ext\.[a-z]+\z}).first, 2)
    ["-I", lib, "-I", ext, "-r", "kafkette"]
  end

  # A member process; its lines go to `lines` as [member_index, line].
  def spawn_member(index, name, topic, lines)
    out_r, out_w = IO.pipe
    pid = Process.spawn(RbConfig.ruby, *load_path_args, "-e", MEMBER, name, BROKERS.join(","), topic, SESSION_MS.to_s,
                        out: out_w, err: File::NULL)
    out_w.close
    @pids << pid
    Thread.new do
      out_r.each_line { |l| lines << [index, l.chomp] }
      out_r.close
    end
    pid
  end

  def test_three_member_processes_share_six_partitions_and_survive_a_kill
    topic = create_topic("group", partitions: 6)
    produce(topic, 6, 20)
    name = group_name
    lines = Queue.new
    claims = {}
    got = Hash.new(0)
    pids = (0...3).map { |i| spawn_member(i, name, topic, lines) }
    drain = lambda do |deadline, &done|
      until done.call
        remaining = deadline - now
        flunk "timed out: claims #{claims.inspect}, #{got.size} records seen" if remaining <= 0
        member, line = begin
          lines.pop(true) # Ruby 3.1's Queue#pop has no timeout
        rescue ThreadError
          sleep 0.02
          next
        end

        case line
        when /\Aclaimed (.*)\z/ then claims[member] = Regexp.last_match(1).split(",").map(&:to_i)
        when /\Agot (\d+) (\d+)\z/ then got[[Integer(Regexp.last_match(1)), Integer(Regexp.last_match(2))]] += 1
        end
      end
    end

    # Each of the three claims two partitions, all six between them.
    drain.call(now + 30) do
      claims.size == 3 && claims.values.all? { |c| c.size == 2 } && claims.values.flatten.sort == (0...6).to_a
    end

    # SIGKILL: no LeaveGroup; the coordinator notices after the session timeout.
    killed = 1
    Process.kill("KILL", pids[killed])
    Process.wait(pids[killed])
    @pids.delete(pids[killed])
    killed_at = now
    claims.delete(killed)
    drain.call(now + 30) do
      claims.keys.sort == [0, 2] && claims.values.all? { |c| c.size == 3 } && claims.values.flatten.sort == (0...6).to_a
    end
    assert_operator now - killed_at, :<, (SESSION_MS / 1000.0) + 10, "the survivors took too long to take over"

    # Every record produced, before and after the kill, is consumed at least once.
    produce(topic, 6, 10, first: 20)
    expected = (0...6).flat_map { |p| (0...30).map { |o| [p, o] } }
    drain.call(now + 20) { (expected - got.keys).empty? }
    assert_empty expected - got.keys
  end

  def test_fetch_commits_and_a_restart_resumes_at_the_committed_offset
    topic = create_topic("group-resume", partitions: 1)
    produce(topic, 1, 10)
    name = group_name
    g = new_group(name, topic)
    seen = []
    deadline = now + 20
    while seen.size < 10 && now < deadline
      g.fetch { |partition, messages| seen.concat(messages.map { |m| [partition, m.offset, m.value] }) }
    end
    assert_equal (0...10).map { |i| [0, i, "p0-#{i}"] }, seen
    assert_equal 10, g.committed_offset(0), "fetch(commit: true) commits after the block"
    g.close
    assert g.closed?
    assert_equal [], g.claimed

    produce(topic, 1, 5, first: 10)
    g2 = new_group(name, topic, auto_commit_interval_ms: 0) # its close must not commit what it fetched
    first = nil
    deadline = now + 20
    first ||= g2.fetch { |_p, messages| break messages.first.offset } until first.is_a?(Integer) || now > deadline
    assert_equal 10, first, "a new member starts at the committed offset"

    # An explicit commit (fetch(commit: false) commits nothing): the next member starts there.
    g2.close
    g3 = new_group(name, topic, auto_commit_interval_ms: 0)
    batch = nil
    deadline = now + 20
    batch = g3.fetch(commit: false) until batch || now > deadline
    assert_equal [0, (10...15).to_a], [batch[0], batch[1].map(&:offset)]
    assert_equal 10, g3.committed_offset(0)
    assert g3.commit(0, 12)
    assert_equal 12, g3.committed_offset(0)
    g3.close
    g4 = new_group(name, topic)
    first = nil
    deadline = now + 20
    first ||= g4.fetch { |_p, messages| break messages.first.offset } until first.is_a?(Integer) || now > deadline
    assert_equal 12, first
  end

  def test_rebalance_callbacks_get_the_partitions
    topic = create_topic("group-cb", partitions: 4)
    name = group_name
    events = []
    g1 = new_group(name, topic, on_assign: ->(parts) { events << [:assign, parts] },
                                on_revoke: ->(parts) { events << [:revoke, parts] })
    g1.join
    assert_equal [[:assign, [0, 1, 2, 3]]], events
    assert_equal [0, 1, 2, 3], g1.claimed

    # A second member (in another thread: the GVL is released while a group waits) joins;
    # g1 gives everything up and claims its half.
    g2 = new_group(name, topic)
    joiner = Thread.new { g2.join }
    deadline = now + 30
    g1.fetch(timeout_ms: 100) until g1.claimed.size == 2 || now > deadline
    joiner.join
    assert_equal 2, g1.claimed.size
    assert_equal [0, 1, 2, 3], (g1.claimed + g2.claimed).sort
    assert_equal [[:assign, [0, 1, 2, 3]], [:revoke, [0, 1, 2, 3]], [:assign, g1.claimed]], events

    mine = g1.claimed
    g1.close
    assert_equal [:revoke, mine], events.last
  end

  def test_on_revoke_runs_while_the_partitions_are_owned_so_a_commit_succeeds
    topic = create_topic("group-revoke", partitions: 2)
    produce(topic, 2, 5)
    name = group_name
    committed = []
    g1 = nil
    g1 = new_group(name, topic, auto_commit_interval_ms: 0, on_revoke: lambda do |parts|
      parts.each { |p| g1.commit(p, 3) && (committed << p) }
      g1.commit # everything fetched so far, too
    end)
    g1.join
    assert_equal [0, 1], g1.claimed
    g2 = new_group(name, topic)
    joiner = Thread.new { g2.join }
    deadline = now + 30
    g1.fetch(timeout_ms: 100) until g1.claimed.size == 1 || now > deadline
    joiner.join
    assert_equal [0, 1], committed, "commits made in on_revoke succeed"
    [0, 1].each { |p| assert_includes 3..5, g2.committed_offset(p) } # 5 when the fetches got that far
  end

  def test_callback_errors_and_reentry
    topic = create_topic("group-cberr", partitions: 1)
    g = nil
    g = new_group(group_name, topic, on_assign: ->(_parts) { raise IOError, "from on_assign" })
    err = assert_raises(IOError) { g.join }
    assert_equal "from on_assign", err.message
    assert_equal [0], g.claimed, "the rebalance completed"

    h = nil
    h = new_group(group_name, topic, on_assign: ->(_parts) { h.fetch(timeout_ms: 10) })
    err = assert_raises(RuntimeError) { h.join }
    assert_match(/inside one of its own calls/, err.message)
    assert_equal [0], h.claimed
  end

  def test_multi_topic_groups_use_topic_partition_pairs
    t1 = create_topic("group-m1", partitions: 2)
    t2 = create_topic("group-m2", partitions: 1)
    g = new_group(group_name, [t1, t2])
    g.join
    assert_equal [[t1, 0], [t1, 1], [t2, 0]].sort, g.claimed.sort
    assert_equal [[t1, 0], [t1, 1], [t2, 0]], g.partitions
    assert_raises(ArgumentError) { g.commit(0, 1) }
    produce(t2, 1, 3)
    batch = nil
    deadline = now + 10
    g.fetch { |partition, messages| batch = [partition, messages.map(&:topic).uniq] } until batch || now > deadline
    assert_equal [0, [t2]], batch
    assert_equal 3, g.committed_offset(t2, 0)
  end

  def test_bad_input
    topic = create_topic("group-bad", partitions: 2)
    assert_raises(ArgumentError) { Kafkette::ConsumerGroup.new("", BROKERS, topic) }
    assert_raises(ArgumentError) { Kafkette::ConsumerGroup.new(nil, BROKERS, topic) }
    assert_raises(ArgumentError) { Kafkette::ConsumerGroup.new("g", BROKERS, []) }
    assert_raises(ArgumentError) { Kafkette::ConsumerGroup.new("g", BROKERS, "") }
    assert_raises(TypeError) { Kafkette::ConsumerGroup.new("g", BROKERS, 42) }
    iae = Kafkette::Errors::InvalidArgumentError
    e = assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, assignor: :sticky) }
    assert_equal "option 'assignor' takes one of 'range', 'roundrobin', not 'sticky'", e.message
    e = assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, zookeeper: "localhost:2181") }
    assert_match(/zookeeper/, e.message)
    e = assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, on_assign: 1) }
    assert_equal "option 'on_assign' takes a callable, not an Integer", e.message
    assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, max_api_versions: [1]) }
    assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, socket_timeout_ms: 0) }
    assert_raises(iae) { Kafkette::ConsumerGroup.new("g", BROKERS, topic, offset_reset: :error) } # a consumer's only
    Kafkette::ConsumerGroup.new("g", BROKERS, topic, "assignor" => "roundrobin", offset_reset: :latest, on_revoke: nil).close

    missing = unique_topic("group-missing")
    g = new_group(group_name, [topic, missing])
    e = assert_raises(Kafkette::Errors::UnknownTopicOrPartition) { g.fetch(timeout_ms: 100) }
    assert_includes e.message, missing

    g = new_group(group_name, topic, assignor: :roundrobin)
    g.join
    e = assert_raises(Kafkette::Errors::NotAssignedError) { g.commit(5, 1) }
    assert_equal Kafkette::Native::ERR_NOT_ASSIGNED, e.code
    assert_match(/not claimed/, e.message)
    assert_raises(ArgumentError) { g.commit(0, -1) }
    g.close
    g.close # twice is fine
    assert_raises(Kafkette::Errors::ClosedError) { g.fetch(timeout_ms: 10) }
  end

  def test_thread_raise_and_timeout_stop_a_waiting_fetch
    topic = create_topic("group-intr", partitions: 1)
    g = new_group(group_name, topic, max_wait_ms: 500)
    g.join

    started = now
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { g.fetch(timeout_ms: 5000) } }
    assert_operator now - started, :<, 0.3 + PROMPT

    stop = Class.new(StandardError)
    result = Queue.new
    t = Thread.new do
      g.fetch(timeout_ms: 5000)
      result << :returned
    rescue stop
      result << now
    end
    sleep 0.3
    raised_at = now
    t.raise(stop)
    stopped_at = result.pop
    t.join
    refute_equal :returned, stopped_at
    assert_operator stopped_at - raised_at, :<, PROMPT

    # Still a member, still usable.
    assert_equal [0], g.claimed
    refute g.fetch(timeout_ms: 100) { flunk "nothing was produced" }

    # close from another thread ends a fetch_loop promptly.
    closer = Thread.new do
      sleep 0.3
      g.close
      now
    end
    g.fetch_loop(timeout_ms: 5000) { flunk "nothing was produced" }
    assert_operator now - closer.value, :<, PROMPT
    assert g.closed?
  end

  def test_page_visits_example
    cmd = [RbConfig.ruby, *load_path_args, File.join(ROOT, "examples", "page_visits.rb"), "--visits", "2000",
           "--bootstrap", BROKERS.join(",")]
    out, err, status = Open3.capture3(*cmd)
    assert status.success?, "page_visits.rb failed:\n#{err}"
    assert_match(/^total visits counted: 2000 of 2000$/, out)
    assert_match(/^every visit counted exactly once$/, out)
    per_ip = out.scan(/^\s*192\.168\.2\.(\d+)\s+(\d+)$/)
    refute_empty per_ip
    consumers = out.scan(/^consumer (\d+): (\d+) visits/).map { |_i, n| Integer(n) }
    assert_equal 3, consumers.size
    assert_equal 2000, consumers.sum
  end
end
