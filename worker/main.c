#include <stdio.h>
int main(void) { fprintf(stderr, "drover-worker: not built yet\n"); return 2; }
