// Everything an extension file needs: the interface, value parsers, the
// save writer and the packet view.
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "compiler/extensions/ArgParse.h"
#include "compiler/ir/Extension.h"
#include "compiler/ir/Ruleset.h"
#include "compiler/ir/SaveWriter.h"
#include "runtime/packet/PacketView.h"
