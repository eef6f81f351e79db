# frozen_string_literal: true

# The gem's `kafkette` executable: from the installed gem when script/test.d/30-ruby runs the suite
# (GEM_HOME/bin/kafkette), else ruby/bin/kafkette on ruby/lib. --help, a produce/consume round trip
# against the broker, and Ctrl-C (exit code 130 with the command's summary).
require_relative "test_helper"
require "open3"
require "rbconfig"

class TestCli < Minitest::Test
  include KafketteTest

  ROOT = File.expand_path("../..", __dir__)
  GEM_HOME = ENV.fetch("GEM_HOME", nil)
  INSTALLED = GEM_HOME && File.join(GEM_HOME, "bin", "kafkette")
  COMMAND = if INSTALLED && File.exist?(INSTALLED)
              [INSTALLED]
            else
              [RbConfig.ruby, "-I", File.join(ROOT, "ruby", "lib"), File.join(ROOT, "ruby", "bin", "kafkette")]
            end

  def kafkette(*args, stdin: "")
    Open3.capture3(*COMMAND, *args, stdin_data: stdin)
  end

  def test_help_and_usage_errors
    out, _, status = kafkette("--help")
    assert_equal 0, status.exitstatus
    assert_includes out, "usage: kafkette COMMAND"
    _, err, status = kafkette("no-such-command")
    assert_equal 2, status.exitstatus
    assert_includes err, "unknown command"
  end

  def test_produce_consume_round_trip
    topic = create_topic("cli", partitions: 2)
    brokers = BROKERS.join(",")
    _, err, status = kafkette("produce", "-b", brokers, "-t", topic, "-K", ",", stdin: "k1,v1\nk2,v2\nk1,v3\n")
    assert_equal 0, status.exitstatus, err
    assert_includes err, "3 delivered, 0 failed"
    out, err, status = kafkette("consume", "-b", brokers, "-t", topic, "-e", "-f", "%k=%v\n")
    assert_equal 0, status.exitstatus, err
    assert_equal %w[k1=v1 k1=v3 k2=v2], out.split.sort
  end

  def test_ctrl_c_stops_the_command
    topic = create_topic("cli-int")
    Open3.popen3(*COMMAND, "consume", "-b", BROKERS.join(","), "-t", topic, "-q") do |stdin, _out, err, wait|
      stdin.close
      sleep 1.5 # the command waits for messages
      assert wait.alive?
      started = now
      Process.kill("INT", wait.pid)
      assert_equal 130, wait.value.exitstatus
      assert_operator now - started, :<, 5
      assert_includes err.read, "stopped by Ctrl-C"
    end
  end
end
