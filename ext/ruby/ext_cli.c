/*
 * Kafkette::Native.cli_main(argv): the gem's `kafkette` executable (bin/kafkette) runs the C
 * command of tools/cli (kk_cli_main) with the GVL released. For the duration of the call
 * kk_cli_main owns SIGINT (Ctrl-C ends the command with its summary and exit code 130) and then
 * gives Ruby its handler back.
 */
#include "kafkette_ext.h"

#include "kafkette_cli.h"

typedef struct cli_call {
    int argc;
    char **argv;
    int rc;
} cli_call_t;

static void *cli_nogvl(void *arg) {
    cli_call_t *call = arg;
    call->rc = kk_cli_main(call->argc, call->argv);
    return NULL;
}

/* cli_main(["kafkette", *ARGV]) -> exit code */
static VALUE native_cli_main(VALUE self, VALUE args) {
    Check_Type(args, T_ARRAY);
    VALUE list = rb_ary_dup(args);
    long n = RARRAY_LEN(list);
    VALUE buf = 0;
    char **argv = ALLOCV_N(char *, buf, n + 1);
    for (long i = 0; i < n; i++)
        argv[i] = (char *)kke_cstr_arg(RARRAY_AREF(list, i),
                                       "argument"); /* kk_cli_main only reads them */
    argv[n] = NULL;
    cli_call_t call = {(int)n, argv, 2};
    /* no unblocking function: the command stops on SIGINT, which it handles itself */
    rb_thread_call_without_gvl(cli_nogvl, &call, NULL, NULL);
    ALLOCV_END(buf);
    RB_GC_GUARD(list);
    return INT2NUM(call.rc);
}

void kke_init_cli(void) {
    VALUE native = rb_define_module_under(kke_mKafkette, "Native");
    rb_define_module_function(native, "cli_main", native_cli_main, 1);
}
