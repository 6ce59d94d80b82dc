/* The libFuzzer entry points every harness defines (declared here so -Wmissing-prototypes holds). */
#ifndef TIGHTROPE_FUZZ_H
#define TIGHTROPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
