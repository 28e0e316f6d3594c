/// The consent wordings (`optIn.notice`) of a pending signature's opt-ins, as stores keep them
/// in one text column until the signature is confirmed.
///
/// A pending signature collects opt-ins from every sign of its person until it is confirmed,
/// each shown with its own wording: `{email: true, notice: "email-v1"}`, then
/// `{sms: true, notice: "sms-v3"}`. Each channel's grant must carry the wording shown with it
/// (the proof of consent), so when the channels' wordings differ the column holds them per
/// channel: `\u{1}email\u{2}email-v1\u{1}sms\u{2}sms-v3`. A notice is one line of text without
/// control characters (the `notice` rule), so the separators cannot occur in one. A plain text
/// (every column written before this encoding, and the common case of one wording) is the
/// wording of all the pending channels.
public enum PendingNotices {
  private static let channelMark: Character = "\u{1}"
  private static let noticeMark: Character = "\u{2}"

  /// The column after a sign of the same person adds `channels` shown with `notice`, given the
  /// column (`stored`) and the channels pending before (`pending`).
  public static func merged(
    _ stored: String?, pending: Set<Channel>, adding channels: Set<Channel>, notice: String?
  ) -> String? {
    guard !channels.isEmpty else { return stored }
    var wordings: [(Channel, String?)] = []
    for channel in Channel.allCases where pending.contains(channel) || channels.contains(channel) {
      wordings.append((channel, channels.contains(channel) ? notice : self.notice(for: channel, in: stored)))
    }
    if let first = wordings.first?.1, wordings.allSatisfy({ $0.1 == first }) { return first }
    if wordings.allSatisfy({ $0.1 == nil }) { return nil }
    var text = ""
    for (channel, wording) in wordings {
      guard let wording else { continue }
      text.append(channelMark)
      text += channel.rawValue
      text.append(noticeMark)
      text += wording
    }
    return text
  }

  /// The wording shown with `channel`'s opt-in, from the column.
  public static func notice(for channel: Channel, in stored: String?) -> String? {
    guard let stored else { return nil }
    guard stored.first == channelMark else { return stored }
    for part in stored.split(separator: channelMark) {
      guard let mark = part.firstIndex(of: noticeMark) else { continue }
      if part[..<mark] == channel.rawValue { return String(part[part.index(after: mark)...]) }
    }
    return nil
  }

  /// `channels` grouped by the wording shown with each (in channel order), for recording
  /// their grants: one group per distinct wording.
  public static func groups(_ channels: Set<Channel>, in stored: String?) -> [(channels: Set<Channel>, notice: String?)]
  {
    var groups: [(channels: Set<Channel>, notice: String?)] = []
    for channel in Channel.allCases where channels.contains(channel) {
      let wording = notice(for: channel, in: stored)
      if let index = groups.firstIndex(where: { $0.notice == wording }) {
        groups[index].channels.insert(channel)
      } else {
        groups.append(([channel], wording))
      }
    }
    return groups
  }
}
