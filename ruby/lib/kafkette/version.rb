# frozen_string_literal: true

module Kafkette
  # The top-level VERSION file is the project's one version (the gem carries it).
  VERSION = File.read(File.expand_path("../../../VERSION", __dir__)).strip.freeze
end
