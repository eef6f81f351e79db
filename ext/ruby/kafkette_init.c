/*
 * The extension's entry point: Kafkette::Native (the core's error taxonomy and constants) and
 * the classes of the other files.
 */
#include "kafkette_ext.h"

#include <stdio.h>

static VALUE str_or_nil(const char *s) { return s ? rb_str_freeze(rb_utf8_str_new_cstr(s)) : Qnil; }

/* [[name, parent or nil, alias or nil, doc], ...]: the classes that are not a broker code's own,
 * parents first. */
static VALUE native_error_classes(VALUE self) {
    const kk_error_class_t *classes;
    size_t n = kk_error_class_list(&classes);
    VALUE list = rb_ary_new_capa((long)n);
    for (size_t i = 0; i < n; i++)
        rb_ary_push(list, rb_ary_new_from_args(4, str_or_nil(classes[i].name), str_or_nil(classes[i].parent),
                                               str_or_nil(classes[i].alias), str_or_nil(classes[i].doc)));
    return list;
}

/* [class name, parent or nil, Poseidon's alias or nil] for any code. */
static VALUE native_error_class(VALUE self, VALUE code) {
    int c = NUM2INT(code);
    char name[128];
    kk_err_class_name(c, name, sizeof(name));
    return rb_ary_new_from_args(3, str_or_nil(name), str_or_nil(kk_err_class_parent(c)),
                                str_or_nil(kk_err_poseidon_alias(c)));
}

/* Every code the core knows: broker codes ascending, then client codes descending. */
static VALUE native_error_codes(VALUE self) {
    const int16_t *broker;
    const int *client;
    size_t nb = kk_err_broker_code_list(&broker), nc = kk_err_client_code_list(&client);
    VALUE list = rb_ary_new_capa((long)(nb + nc));
    for (size_t i = 0; i < nb; i++)
        rb_ary_push(list, INT2FIX(broker[i]));
    for (size_t i = 0; i < nc; i++)
        rb_ary_push(list, INT2FIX(client[i]));
    return list;
}

static VALUE native_error_name(VALUE self, VALUE code) { return rb_str_new_cstr(kk_err_name(NUM2INT(code))); }

static VALUE native_error_description(VALUE self, VALUE code) {
    return rb_str_new_cstr(kk_err_description(NUM2INT(code)));
}

static VALUE native_retriable_p(VALUE self, VALUE code) { return kk_err_is_retriable(NUM2INT(code)) ? Qtrue : Qfalse; }

RUBY_FUNC_EXPORTED void Init_kafkette_ext(void) {
    kke_mKafkette = rb_define_module("Kafkette");
    kke_mErrors = rb_define_module_under(kke_mKafkette, "Errors");
    kke_cMessageToSend = rb_define_class_under(kke_mKafkette, "MessageToSend", rb_cObject);
    kke_cFetchedMessage = rb_define_class_under(kke_mKafkette, "FetchedMessage", rb_cObject);
    rb_gc_register_mark_object(kke_cMessageToSend);
    rb_gc_register_mark_object(kke_cFetchedMessage);
    kke_id_failed_messages = rb_intern("@failed_messages");
    kke_id_call = rb_intern("call");

    VALUE native = rb_define_module_under(kke_mKafkette, "Native");
    rb_define_module_function(native, "error_classes", native_error_classes, 0);
    rb_define_module_function(native, "error_class", native_error_class, 1);
    rb_define_module_function(native, "error_codes", native_error_codes, 0);
    rb_define_module_function(native, "error_name", native_error_name, 1);
    rb_define_module_function(native, "error_description", native_error_description, 1);
    rb_define_module_function(native, "retriable?", native_retriable_p, 1);
    rb_define_const(native, "CORE_VERSION", rb_str_freeze(rb_str_new_cstr(KK_VERSION_STRING)));

    /* ERR_TIMED_OUT, ... for every client code ("_TIMED_OUT"), and ERR_UNKNOWN_SERVER_ERROR */
    const int *client;
    size_t nc = kk_err_client_code_list(&client);
    for (size_t i = 0; i < nc; i++) {
        char name[64];
        snprintf(name, sizeof(name), "ERR%s", kk_err_name(client[i]));
        rb_define_const(native, name, INT2FIX(client[i]));
    }
    rb_define_const(native, "ERR_UNKNOWN_SERVER_ERROR", INT2FIX(KK_ERR_UNKNOWN_SERVER_ERROR));
#define KKE_CONST(name) rb_define_const(native, #name, INT2NUM(KK_##name))
    KKE_CONST(OFFSET_AT);
    KKE_CONST(OFFSET_EARLIEST);
    KKE_CONST(OFFSET_LATEST);
    KKE_CONST(OFFSET_FROM_LATEST);
    KKE_CONST(OFFSET_AT_TIME);
#undef KKE_CONST

    kke_init_messages();
    kke_init_producer();
    kke_init_consumer();
    kke_init_client();
    kke_init_group();
    kke_init_cli();
}
