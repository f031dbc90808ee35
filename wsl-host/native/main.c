/*
 * One static binary, two programs: run as `berth-wsl` (bin/berth-wsl links here) it is
 * wsl.exe's command line (wsl-entry.c); under any other name it is berth-init (berth-init.c).
 * Choosing here keeps berth-init.c from depending on wsl-entry.c, which depends on it.
 */
#include <string.h>
#include "berth-init.h"

int main(int argc, char **argv) {
  const char *self = strrchr(argv[0], '/');
  if (strcmp(self ? self + 1 : argv[0], "berth-wsl") == 0) return wsl_entry(argc, argv);
  return berth_init_main(argc, argv);
}
