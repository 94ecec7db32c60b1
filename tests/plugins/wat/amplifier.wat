;; Hostile ranker, written by hand against the canonical ABI (issue 11, item 3).
;; Its `list<ranked>` result has 16,384 entries whose ids all point at the same
;; 256 KiB string in guest memory: lifted naively that is 4 GiB of host memory
;; from a plugin allowed 8 MiB. The host must refuse it from the lengths alone.
(component
  (type $query' (record (field "text" string) (field "request-id" string)))
  (export $query "query" (type $query'))
  (type $passage' (record (field "id" string) (field "text" string) (field "source" string)
                          (field "heading" string) (field "score" f64)))
  (export $passage "passage" (type $passage'))
  (type $ranked' (record (field "id" string) (field "score" f64)))
  (export $ranked "ranked" (type $ranked'))
  (core module $m
    ;; 0x00000..0x00010  return area: (list ptr, list len)
    ;; 0x01000..0x41000  one 256 KiB string of "a"
    ;; 0x41000..0x81000  16,384 entries of 16 bytes: (ptr, len, score f64)
    ;; 0x81000..         the host's arguments (bump allocator)
    (memory (export "memory") 130)
    (global $bump (mut i32) (i32.const 0x81000))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "rank") (param i32 i32 i32 i32 i32 i32) (result i32)
      (local $i i32)
      (memory.fill (i32.const 0x1000) (i32.const 0x61) (i32.const 0x40000))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (i32.const 16384)))
          (i32.store (i32.add (i32.const 0x41000) (i32.shl (local.get $i) (i32.const 4))) (i32.const 0x1000))
          (i32.store (i32.add (i32.const 0x41004) (i32.shl (local.get $i) (i32.const 4))) (i32.const 0x40000))
          (f64.store (i32.add (i32.const 0x41008) (i32.shl (local.get $i) (i32.const 4))) (f64.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (i32.store (i32.const 0) (i32.const 0x41000))
      (i32.store (i32.const 4) (i32.const 16384))
      (i32.const 0)))
  (core instance $i (instantiate $m))
  (func $rank (param "q" $query) (param "candidates" (list $passage)) (result (list $ranked))
    (canon lift (core func $i "rank") (memory $i "memory") (realloc (func $i "realloc"))))
  (export "rank" (func $rank))
)
