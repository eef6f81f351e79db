/*
 * The project's version is the top-level VERSION file: CMake, pyproject.toml and the gemspec
 * (ruby/lib/kafkette/version.rb) read it. The public header keeps a copy, KK_VERSION_STRING,
 * which the Python module's __version__ and Ruby's Kafkette::CORE_VERSION come from: it must
 * not drift.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafkette.h"

static void test_header_matches_version_file(void **state) {
    (void)state;
    const char *path = KAFKETTE_SOURCE_DIR "/VERSION";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    assert_true(line[0] != '\0');
    if (strcmp(line, KK_VERSION_STRING) != 0)
        fail_msg("%s says %s but kafkette.h's KK_VERSION_STRING is %s: change both", path, line,
                 KK_VERSION_STRING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_matches_version_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
