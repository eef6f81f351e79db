/*
 * Benchmark-only extension for bench/ruby_bench.rb: what Ruby itself charges for the objects a
 * fetch hands over, without Kafka. One call makes one fetch's worth of records the cheapest way
 * Ruby offers from C: a Struct (offset, value) per record, both fields embedded in the object,
 * and a fresh String (a copy, as a fetch makes) as its value.
 */
#include <ruby.h>

static VALUE record_class;

/* records(values, first_offset, count) -> Array of Record; record n's value is a copy of
 * values[n % values.size], as bench/ruby_bench.rb's producer sent it. */
static VALUE floor_records(VALUE self, VALUE values, VALUE first, VALUE count) {
    Check_Type(values, T_ARRAY);
    long n = NUM2LONG(count), from = NUM2LONG(first), m = RARRAY_LEN(values);
    if (n < 0 || from < 0 || m == 0)
        rb_raise(rb_eArgError, "values must not be empty, and offsets and counts not negative");
    VALUE list = rb_ary_new_capa(n);
    for (long i = 0; i < n; i++) {
        VALUE source = rb_ary_entry(values, (from + i) % m);
        StringValue(source);
        VALUE value = rb_str_new(RSTRING_PTR(source), RSTRING_LEN(source));
        rb_ary_push(list, rb_struct_new(record_class, LONG2NUM(from + i), value));
    }
    return list;
}

void Init_kafkette_bench_floor(void) {
    VALUE mod = rb_define_module("KafketteBenchFloor");
    record_class = rb_struct_define_under(mod, "Record", "offset", "value", NULL);
    rb_define_module_function(mod, "records", floor_records, 3);
}
