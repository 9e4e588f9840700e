// The static analyser (Z3): see issue "Verifier". Entry points are added
// here by the verifier work; the driver's check/diff/query commands use them.
#pragma once
