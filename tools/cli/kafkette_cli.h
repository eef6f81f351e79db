/* The `kafkette` console command, callable from a host program (the Python and Ruby packages
 * launch it too). */
#ifndef KAFKETTE_CLI_H
#define KAFKETTE_CLI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the command as `kafkette argv[1] argv[2] ...` (argv[0] is the program name used in
 * messages) and returns its exit code: 0 success, 1 a failure (a message on stderr names its
 * class and what to try), 2 a usage error, 130 stopped by Ctrl-C. Writes only to stdout and
 * stderr. Installs a SIGINT handler for the duration of the call and restores the previous
 * one before returning; keeps no state between calls, so it may be called again. */
int kk_cli_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
