# frozen_string_literal: true

require_relative "test_helper"

# A fake broker on loopback answers the binding's first request with hostile bytes: a 100 MiB
# length prefix followed by nothing, a reply dripped a byte at a time, a reply to a request that
# was never sent. Each must end in a clear error of the right class, promptly, with bounded
# memory (the C core's own tests cover the same inputs at the protocol level).
class TestHostileBroker < Minitest::Test
  class FakeBroker
    attr_reader :port, :requests

    def initialize(&reply)
      @reply = reply
      @server = TCPServer.new("127.0.0.1", 0)
      @port = @server.addr[1]
      @requests = 0
      @stop = false
      @threads = []
      @acceptor = Thread.new { serve }
    end

    def serve
      until @stop
        conn = accept_one or return
        @threads << Thread.new(conn) { |c| handle(c) }
      end
    end

    def accept_one
      @server.accept
    rescue IOError, Errno::EBADF
      nil
    end

    def handle(conn)
      size = conn.read(4)&.unpack1("l>")
      body = size && conn.read(size)
      return unless body && body.bytesize == size

      @requests += 1
      @reply.call(conn, body.byteslice(4, 4).unpack1("l>"))
    rescue IOError, SystemCallError
      nil
    ensure
      conn.close unless conn.closed?
    end

    def stopped?
      @stop
    end

    def close
      @stop = true
      @server.close
      @acceptor.join(2)
      @threads.each { |t| t.join(2) }
    end
  end

  def setup
    @brokers = []
  end

  def teardown
    @brokers.each(&:close)
  end

  def fake_broker(&)
    FakeBroker.new(&).tap { |b| @brokers << b }
  end

  def consumer_of(broker)
    Kafkette::PartitionConsumer.new("hostile", "127.0.0.1", broker.port, "t", 0, :earliest_offset,
                                    socket_timeout_ms: 1000, connect_timeout_ms: 1000)
  end

  def rss_kb
    File.foreach("/proc/self/status") { |l| return l.split[1].to_i if l.start_with?("VmRSS:") }
    0
  end

  def wait_while_open(broker, seconds)
    deadline = Time.now + seconds
    sleep 0.05 while Time.now < deadline && !broker.stopped?
  end

  def test_a_100_mib_length_prefix_followed_by_nothing_times_out_with_bounded_memory
    broker = fake_broker do |conn, id|
      conn.write([100 * 1024 * 1024, id].pack("l>l>"))
      wait_while_open(broker, 15)
    end
    before = rss_kb
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    error = assert_raises(Kafkette::Errors::TimedOutError) { consumer_of(broker).fetch }
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    assert_operator broker.requests, :>=, 1
    assert_includes error.message, "127.0.0.1:#{broker.port}"
    assert_operator elapsed, :<, 10, "gave up after #{elapsed} s with a 1 s request timeout"
    assert_operator rss_kb - before, :<, 20 * 1024, "the announced 100 MiB must not be allocated up front"
  end

  def test_a_reply_dripped_a_byte_at_a_time_ends_at_the_deadline
    broker = fake_broker do |conn, id|
      ([1000, id].pack("l>l>") + ("\0" * 996)).each_byte do |b|
        break if broker.stopped?

        sleep 0.05
        conn.write(b.chr)
      end
    end
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(Kafkette::Errors::TimedOutError) { consumer_of(broker).fetch }
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 10
  end

  def test_a_reply_to_a_request_never_sent_is_malformed
    broker = fake_broker do |conn, id|
      conn.write([8, id + 12_345].pack("l>l>") + ("\0" * 4))
      wait_while_open(broker, 5)
    end
    error = assert_raises(Kafkette::Errors::MalformedResponseError) { consumer_of(broker).fetch }
    assert_equal(-106, error.code) # KK_ERR_CORRELATION
    assert_includes error.message, "correlation"
  end
end
