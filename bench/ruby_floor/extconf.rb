# frozen_string_literal: true

# Builds kafkette_bench_floor (bench/ruby_bench.rb runs this in build-bench/ruby-floor).
require "mkmf"
# Ruby 3.1's headers have unused parameters of their own.
$CFLAGS << " -Wall -Wextra -Wno-unused-parameter -Werror"
create_makefile("kafkette_bench_floor")
