// File structure of iptables-save output: tables, chain declarations with
// policies and counters, rule commands, COMMIT.
parser grammar IptablesRestoreParser;
options { tokenVocab = IptablesRestoreLexer; }

file        : line* EOF ;
line        : statement? NEWLINE ;
statement   : tableHeader
            | chainDecl
            | commit
            | command
            ;
tableHeader : TABLE arg* ;
chainDecl   : CHAIN arg* ;
commit      : COMMIT arg* ;
command     : COUNTERS? arg+
            | COUNTERS
            ;
arg         : WORD | QUOTED | COUNTERS ;
