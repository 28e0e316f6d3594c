import CJansson

/// A JSON value held by libjansson. Each `JSON` owns one reference to its `json_t` and drops it
/// in `deinit`, so handles never leak, also on error paths.
///
/// Values are treated as immutable once shared between threads; building (`set`, `append`) is
/// done by one owner before the value is handed on.
public final class JSON: @unchecked Sendable {
  @usableFromInline let handle: UnsafeMutablePointer<json_t>

  /// Takes over a reference the caller owns (a "new" reference in jansson's terms).
  @usableFromInline init(owning handle: UnsafeMutablePointer<json_t>) {
    self.handle = handle
  }

  /// Adds a reference to a borrowed handle (e.g. a member of an object).
  @usableFromInline convenience init(borrowing handle: UnsafeMutablePointer<json_t>) {
    self.init(owning: cjansson_incref(handle)!)
  }

  deinit {
    cjansson_decref(handle)
  }

  public enum Kind: Equatable, Sendable {
    case object, array, string, integer, real, bool, null
  }

  public var kind: Kind {
    switch handle.pointee.type {
    case JSON_OBJECT: return .object
    case JSON_ARRAY: return .array
    case JSON_STRING: return .string
    case JSON_INTEGER: return .integer
    case JSON_REAL: return .real
    case JSON_TRUE, JSON_FALSE: return .bool
    default: return .null
    }
  }

  public var isNull: Bool { handle.pointee.type == JSON_NULL }
  public var isObject: Bool { handle.pointee.type == JSON_OBJECT }
  public var isArray: Bool { handle.pointee.type == JSON_ARRAY }
  public var isString: Bool { handle.pointee.type == JSON_STRING }
  public var isInteger: Bool { handle.pointee.type == JSON_INTEGER }
  public var isNumber: Bool { handle.pointee.type == JSON_INTEGER || handle.pointee.type == JSON_REAL }
  public var isBool: Bool { handle.pointee.type == JSON_TRUE || handle.pointee.type == JSON_FALSE }

  // MARK: Reading

  /// The string's text, NUL bytes included; nil when this is not a string.
  public var stringValue: String? { view.stringValue }

  /// The integer; nil when this is not an integer (reals are not converted).
  public var integerValue: Int64? { view.integerValue }

  public var realValue: Double? {
    guard handle.pointee.type == JSON_REAL else { return nil }
    return json_real_value(handle)
  }

  public var boolValue: Bool? { view.boolValue }

  /// The member named `key` of an object; nil when absent or when this is not an object.
  public subscript(key: String) -> JSON? {
    view[key].map { JSON(borrowing: $0.handle) }
  }

  /// Number of members of an object or elements of an array; 0 otherwise.
  public var count: Int { view.count }

  /// The element at `index` of an array.
  public subscript(index: Int) -> JSON? {
    guard let element = json_array_get(handle, index) else { return nil }
    return JSON(borrowing: element)
  }

  /// The elements of an array (empty for other kinds).
  public var elements: [JSON] {
    guard isArray else { return [] }
    return (0..<json_array_size(handle)).map { JSON(borrowing: json_array_get(handle, $0)!) }
  }

  /// The member names of an object, in document order (empty for other kinds).
  public var keys: [String] {
    guard isObject else { return [] }
    var names: [String] = []
    var iterator = json_object_iter(handle)
    while let current = iterator {
      let key = json_object_iter_key(current)!
      let length = json_object_iter_key_len(current)
      names.append(
        key.withMemoryRebound(to: UInt8.self, capacity: length) {
          String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        })
      iterator = json_object_iter_next(handle, current)
    }
    return names
  }

  /// Structural equality, as jansson defines it (object member order does not matter).
  public func isEqual(to other: JSON) -> Bool {
    json_equal(handle, other.handle) != 0
  }

  /// A deep copy that can be changed without affecting this value.
  public func deepCopy() -> JSON {
    JSON(owning: json_deep_copy(handle)!)
  }

  // MARK: Building

  public static func object() -> JSON { JSON(owning: json_object()!) }
  public static func array() -> JSON { JSON(owning: json_array()!) }
  public static var null: JSON { JSON(owning: json_null()!) }
  public static func bool(_ value: Bool) -> JSON { JSON(owning: (value ? json_true() : json_false())!) }
  public static func integer(_ value: Int64) -> JSON { JSON(owning: json_integer(json_int_t(value))!) }
  public static func integer(_ value: Int) -> JSON { integer(Int64(value)) }
  public static func real(_ value: Double) -> JSON { JSON(owning: json_real(value)!) }

  /// A string value. The text is valid UTF-8 by construction (Swift strings are).
  public static func string(_ value: String) -> JSON {
    var text = value
    return text.withUTF8 { bytes in
      bytes.withMemoryRebound(to: CChar.self) {
        // json_stringn_nocheck: Swift strings are already valid UTF-8.
        JSON(owning: json_stringn_nocheck($0.baseAddress ?? emptyCString, $0.count)!)
      }
    }
  }

  /// A string, or null when `value` is nil.
  public static func stringOrNull(_ value: String?) -> JSON {
    value.map { string($0) } ?? null
  }

  /// Sets an object member, replacing any member of that name.
  public func set(_ key: String, _ value: JSON) {
    _ = key.withCString { json_object_set(handle, $0, value.handle) }
  }

  public func set(_ key: String, _ value: String) { set(key, .string(value)) }
  public func set(_ key: String, _ value: Int) { set(key, .integer(value)) }
  public func set(_ key: String, _ value: Bool) { set(key, .bool(value)) }
  public func set(_ key: String, _ value: String?) { set(key, .stringOrNull(value)) }
  public func set(_ key: String, _ value: Int?) { set(key, value.map { JSON.integer($0) } ?? .null) }

  /// Appends to an array.
  public func append(_ value: JSON) {
    json_array_append(handle, value.handle)
  }
}

/// A stable empty C string for jansson calls that need a non-null pointer.
nonisolated(unsafe) let emptyCString: UnsafePointer<CChar> = {
  let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
  pointer.initialize(to: 0)
  return UnsafePointer(pointer)
}()

/// A borrowed look at a value inside a `JSON` that someone else owns: no reference is taken and
/// nothing is allocated, so reading the members of a request costs no Swift object per field.
/// Valid only while the owning `JSON` is alive (e.g. for the duration of handling a request).
public struct JSONView {
  @usableFromInline let handle: UnsafeMutablePointer<json_t>

  @usableFromInline init(_ handle: UnsafeMutablePointer<json_t>) {
    self.handle = handle
  }

  public var isNull: Bool { handle.pointee.type == JSON_NULL }
  public var isObject: Bool { handle.pointee.type == JSON_OBJECT }
  public var isArray: Bool { handle.pointee.type == JSON_ARRAY }
  public var isString: Bool { handle.pointee.type == JSON_STRING }
  public var isInteger: Bool { handle.pointee.type == JSON_INTEGER }

  public var stringValue: String? {
    guard let bytes = json_string_value(handle) else { return nil }
    let length = json_string_length(handle)
    return bytes.withMemoryRebound(to: UInt8.self, capacity: length) {
      String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
  }

  public var integerValue: Int64? {
    guard handle.pointee.type == JSON_INTEGER else { return nil }
    return Int64(json_integer_value(handle))
  }

  public var boolValue: Bool? {
    switch handle.pointee.type {
    case JSON_TRUE: return true
    case JSON_FALSE: return false
    default: return nil
    }
  }

  /// The member named `key` of an object; nil when absent or when this is not an object.
  public subscript(key: String) -> JSONView? {
    // withCString lends a native string's own NUL-terminated storage: no copy of the key.
    key.withCString { json_object_get(handle, $0) }.map(JSONView.init)
  }

  public var count: Int {
    switch handle.pointee.type {
    case JSON_OBJECT: return json_object_size(handle)
    case JSON_ARRAY: return json_array_size(handle)
    default: return 0
    }
  }

  public var elements: [JSONView] {
    guard isArray else { return [] }
    return (0..<json_array_size(handle)).map { JSONView(json_array_get(handle, $0)!) }
  }

  /// The member names of an object, in document order.
  public var keys: [String] { retained().keys }

  /// An owning reference to this value, to keep it beyond its owner.
  public func retained() -> JSON { JSON(borrowing: handle) }
}

extension JSON {
  /// A borrowed view of this value (valid while this `JSON` is alive).
  public var view: JSONView { JSONView(handle) }
}
