;; Hostile preprocessor, written by hand (issue 11, item 4): besides its own
;; memory, it instantiates the `filler` module FILLERS times, each with a memory of
;; FILLER_PAGES pages. Each memory stays under the plugin's `memory_mb`, all of them
;; together do not; and with enough fillers the component exceeds the per-component
;; memory count. The test substitutes FILLERS and FILLER_PAGES. Otherwise it passes the
;; query through unchanged.
(component
  (type $query' (record (field "text" string) (field "request-id" string)))
  (export $query "query" (type $query'))
  (type $rejection' (record (field "reason" string) (field "code" string)))
  (export $rejection "rejection" (type $rejection'))
  (core module $filler (memory (export "m") FILLER_PAGES))
  (core module $m
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    ;; result<query, rejection>: tag byte at 16, payload (4 x i32) at 20.
    (func (export "preprocess") (param i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (local.get 0))
      (i32.store (i32.const 24) (local.get 1))
      (i32.store (i32.const 28) (local.get 2))
      (i32.store (i32.const 32) (local.get 3))
      (i32.const 16)))
  FILLER_INSTANCES
  (core instance $i (instantiate $m))
  (func $pp (param "q" $query) (result (result $query (error $rejection)))
    (canon lift (core func $i "preprocess") (memory $i "memory") (realloc (func $i "realloc"))))
  (export "preprocess" (func $pp))
)
