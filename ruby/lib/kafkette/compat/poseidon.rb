# frozen_string_literal: true

# Put this directory on the load path (ruby -I "$(ruby -rkafkette -e 'print Kafkette::POSEIDON_COMPAT_DIR')")
# and an unchanged `require "poseidon"` loads kafkette's Poseidon layer.
require "kafkette/poseidon"
