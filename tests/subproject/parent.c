/*
 * The parent project's own test: libxipvm through its public header, as
 * a user who builds it as a subproject links it.
 */
#include <stdio.h>
#include <string.h>

#include <xipvm.h>

int main(void)
{
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_vmspace *vs, *child;
    uint64_t va = 0;
    char buf[6] = { 0 }, msg[256];

    xvm_config_init(&cfg);
    if (xvm_machine_create(&cfg, &m) != 0 || xvm_vmspace_create(m, &vs) != 0)
        return 1;
    if (xvm_mmap(vs, &va, 8192, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE,
                 NULL, 0) != 0 ||
        xvm_write(vs, va, "hello", 5) != 0 ||
        xvm_vmspace_fork(vs, &child) != 0 ||
        xvm_write(child, va, "HELLO", 5) != 0 ||
        xvm_read(vs, va, buf, 5) != 0 || strcmp(buf, "hello") != 0 ||
        xvm_read(child, va, buf, 5) != 0 || strcmp(buf, "HELLO") != 0)
        return 1;
    if (xvm_machine_check(m, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    xvm_machine_destroy(m);
    printf("libxipvm %s as a subproject: ok\n", xvm_version());
    return 0;
}
