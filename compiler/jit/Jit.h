// The JIT classifier (LLVM ORC): see issue "JIT classifier". Entry points
// are added here by the JIT work; `nfjit compile` and replay's `--engine jit`
// use them.
#pragma once
