// Minimal unit-test harness for the runtime's C tests. Each test binary registers its tests
// with TEST(name); `test_x --list` prints their names and `test_x NAME` runs one (pytest
// parametrizes over the list, so a failure names the device and the register); no argument
// runs them all.
#ifndef RING1_UNIT_H
#define RING1_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
};

#define UNIT_MAX 128
static struct unit_test unit_tests[UNIT_MAX];
static int unit_ntests, unit_failed;
static const char *unit_current;

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void register_##name(void)              \
    {                                                                           \
        unit_tests[unit_ntests++] = (struct unit_test){#name, test_##name};     \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s: %s:%d: CHECK(%s) failed\n", unit_current,      \
                    __FILE__, __LINE__, #cond);                                 \
            unit_failed = 1;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_EQ(a, b)                                                          \
    do {                                                                        \
        long long _a = (long long)(a), _b = (long long)(b);                     \
        if (_a != _b) {                                                         \
            fprintf(stderr, "%s: %s:%d: %s == %#llx, expected %s == %#llx\n",   \
                    unit_current, __FILE__, __LINE__, #a, _a, #b, _b);          \
            unit_failed = 1;                                                    \
            return;                                                             \
        }                                                                       \
    } while (0)

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (int i = 0; i < unit_ntests; i++)
            printf("%s\n", unit_tests[i].name);
        return 0;
    }
    int ran = 0, failed = 0;
    for (int i = 0; i < unit_ntests; i++) {
        if (argc > 1 && strcmp(argv[1], unit_tests[i].name))
            continue;
        unit_current = unit_tests[i].name;
        unit_failed = 0;
        unit_tests[i].fn();
        ran++;
        failed += unit_failed;
        printf("%s %s\n", unit_failed ? "FAIL" : "ok", unit_tests[i].name);
    }
    if (!ran) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    return failed ? 1 : 0;
}

#endif
