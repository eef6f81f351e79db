# frozen_string_literal: true

require_relative "ruby/lib/kafkette/version"

Gem::Specification.new do |spec|
  spec.name = "kafkette"
  spec.version = Kafkette::VERSION
  spec.summary = "Apache Kafka client: a C core with Poseidon's Ruby API"
  spec.description = <<~TEXT
    kafkette speaks the Kafka protocol in a small C11 core and exposes it to Ruby through a native
    extension with Poseidon's API (Producer, MessageToSend, PartitionConsumer, FetchedMessage,
    Errors). require "kafkette/poseidon" defines Poseidon itself, with Poseidon's defaults.
    Network waits release the GVL and can be interrupted (Ctrl-C, Thread#raise, Timeout).
  TEXT
  spec.authors = ["kafkette developers"]
  spec.required_ruby_version = ">= 2.7"

  # The extension compiles the core's sources too, so the gem carries them. Listed by pattern
  # (not git ls-files) so a build from an unpacked tree works, and build products stay out.
  spec.files = Dir.glob(%w[core/include/*.h core/src/*.{c,h} ext/ruby/*.{c,h,rb} tools/cli/*.{c,h}
                           ruby/lib/**/*.rb ruby/bin/kafkette ruby/POSEIDON.md README.md VERSION kafkette.gemspec],
                        base: __dir__)
  spec.require_paths = ["ruby/lib"]
  # `kafkette`: the console command of tools/cli (README.md, "The kafkette command")
  spec.bindir = "ruby/bin"
  spec.executables = ["kafkette"]
  spec.extensions = ["ext/ruby/extconf.rb"]
end
