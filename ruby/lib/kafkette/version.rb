# frozen_string_literal: true

module Kafkette
  VERSION = "0.1.0"
end
