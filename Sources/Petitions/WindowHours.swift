/// A time window cut at whole hours, as both stores answer windowed counts: the hours wholly
/// inside it are summed from hourly aggregates, the partial edge hours counted from the rows.
public struct WindowHours: Equatable, Sendable {
  public static let hour: Int64 = 3_600_000

  /// Whole hours (hour numbers since the epoch) [first, end), or nil when there are none.
  public var hours: (first: Int64, end: Int64)?
  /// The partial edges as signed_at ranges [lowest, end), at most two.
  public var edges: [(lowest: Int64, end: Int64)]

  /// `lowest` inclusive and `end` exclusive, in milliseconds; `.min` and `.max` for no bound.
  public init(lowest: Int64, end: Int64) {
    let firstHour = lowest == .min ? Int64.min : -Self.floorDivide(-lowest, Self.hour)
    let endHour = end == .max ? Int64.max : Self.floorDivide(end, Self.hour)
    if firstHour < endHour {
      hours = (firstHour, endHour)
      edges = []
      if firstHour != .min && lowest < firstHour * Self.hour { edges.append((lowest, firstHour * Self.hour)) }
      if endHour != .max && endHour * Self.hour < end { edges.append((endHour * Self.hour, end)) }
    } else {
      hours = nil
      edges = lowest < end ? [(lowest, end)] : []
    }
  }

  public init(_ window: TimeWindow) {
    self.init(lowest: window.since?.millisecondsSinceEpoch ?? .min, end: window.until?.millisecondsSinceEpoch ?? .max)
  }

  public static func == (lhs: WindowHours, rhs: WindowHours) -> Bool {
    lhs.hours?.first == rhs.hours?.first && lhs.hours?.end == rhs.hours?.end
      && lhs.edges.elementsEqual(rhs.edges) { $0.lowest == $1.lowest && $0.end == $1.end }
  }

  private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return value % divisor < 0 ? quotient - 1 : quotient
  }
}
