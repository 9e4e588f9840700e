// Tokens of the iptables-save / iptables-restore format.
// Line structure is decided by the first token of a line (as iptables-restore
// does it by the first byte), so the lexer has a line-start mode and an
// argument mode. Option tokens stay uninterpreted words: each extension
// parses its own options (see ../shared/DESIGN.md, "where the grammar stops").
lexer grammar IptablesRestoreLexer;

// ---- line start ----
COMMENT     : '#' ~[\r\n]* -> skip ;
BLANK_LINE  : [ \t]* '\r'? '\n' -> type(NEWLINE) ;
TABLE       : '*' ~[ \t\r\n]* -> pushMode(ARGS) ;
CHAIN       : ':' ~[ \t\r\n]* -> pushMode(ARGS) ;
COMMIT      : 'COMMIT' -> pushMode(ARGS) ;
COUNTERS    : '[' ~[\] \t\r\n]* ']' -> pushMode(ARGS) ;
LEAD_WS     : [ \t]+ -> skip ;
FIRST_QUOTED: '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"'? -> type(QUOTED), pushMode(ARGS) ;
FIRST_WORD  : ~[ \t\r\n"] ~[ \t\r\n"]* QUOTED_TAIL? -> type(WORD), pushMode(ARGS) ;

mode ARGS;
NEWLINE     : '\r'? '\n' -> popMode ;
WS          : [ \t\r]+ -> skip ;
// An unterminated quote runs to the end of the line; the front end reports it.
QUOTED      : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"'? ;
// iptables-restore opens a quote anywhere in a word; the closing quote ends
// the word: `ab"c d"' is the one word `abc d'.
WORD        : ~[ \t\r\n"]+ QUOTED_TAIL? ;
fragment QUOTED_TAIL : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"'? ;
