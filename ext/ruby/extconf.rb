# Builds the kafkette extension: the C core (core/src) and the Ruby glue (ext/ruby) compiled
# together into one shared object, kafkette/kafkette_ext.so.
#
#   ruby ext/ruby/extconf.rb [--with-strict]   # --with-strict (or KAFKETTE_STRICT=1): -Werror
require "mkmf"

ext_dir = File.expand_path(__dir__)
root = File.expand_path("../..", ext_dir)
core_src = File.join(root, "core", "src")
core_include = File.join(root, "core", "include")
cli_src = File.join(root, "tools", "cli") # the kafkette command (bin/kafkette), but its main.c

unless File.directory?(core_src) && File.exist?(File.join(core_include, "kafkette.h"))
  abort "kafkette: the C core is missing (expected #{core_src} and #{core_include}/kafkette.h)"
end

# The three directories feed one object directory, so basenames must not collide.
ext_sources = Dir.glob(File.join(ext_dir, "*.c")).map { |f| File.basename(f) }.sort
core_sources = Dir.glob(File.join(core_src, "*.c")).map { |f| File.basename(f) }.sort
cli_sources = Dir.glob(File.join(cli_src, "*.c")).map { |f| File.basename(f) }.sort - ["main.c"]
abort "kafkette: the command's sources are missing (expected #{cli_src})" if cli_sources.empty?
all_sources = ext_sources + core_sources + cli_sources
clash = all_sources.select { |f| all_sources.count(f) > 1 }.uniq
abort "kafkette: ext/ruby, core/src and tools/cli share #{clash.join(', ')}" unless clash.empty?

$srcs = all_sources
$VPATH << core_src << cli_src
$INCFLAGS << " -I#{core_include} -I#{core_src} -I#{cli_src}"

$CFLAGS << " -std=c11 -fvisibility=hidden -D_POSIX_C_SOURCE=200809L"
# Debian's Ruby leaves $(warnflags) out of CFLAGS, so the warnings go into $CFLAGS directly.
$CFLAGS << " -Wall -Wextra -Wno-unused-parameter"
$CFLAGS << " -Werror" if with_config("strict") || ENV["KAFKETTE_STRICT"] == "1"
# Nothing outside the extension should bind to the core's symbols, nor the core to theirs.
$LDFLAGS << " -Wl,-Bsymbolic"

%w[z snappy lz4 zstd].each do |lib|
  have_library(lib) or abort "kafkette: lib#{lib} is missing (Debian: zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev)"
end
# TLS and SCRAM (Debian: libssl-dev)
pkg_config("openssl") or (have_library("crypto") && have_library("ssl")) or
  abort "kafkette: OpenSSL is missing (Debian: libssl-dev)"
%w[zlib.h snappy-c.h lz4.h lz4frame.h zstd.h openssl/ssl.h].each do |header|
  have_header(header) or abort "kafkette: #{header} is missing"
end
have_header("ruby/thread.h") or abort "kafkette: ruby/thread.h is missing"
have_func("rb_nogvl", "ruby/thread.h")

create_makefile("kafkette/kafkette_ext")
