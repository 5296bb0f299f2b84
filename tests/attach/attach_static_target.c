/* A statically linked program (no libc.so.6 mapped): `vramscope attach`
   must refuse it. Prints "ready", then sleeps for argv[1] seconds (10). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
    puts("ready");
    fflush(stdout);
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 10);
    return 0;
}
