/* The `kafkette` executable: everything is in kk_cli_main. */
#include "kafkette_cli.h"

int main(int argc, char **argv) { return kk_cli_main(argc, argv); }
