import Foundation

/// A page's words in both languages. The page scripts get them as one JSON block
/// (`<script type="application/json" id="page-text">`, never executed), so each word is written once.
struct WordTable: Sendable {
    let words: [String: (ko: String, en: String)]

    init(_ words: [String: (ko: String, en: String)]) { self.words = words }

    /// Every word in one language, for a template.
    func chosen(_ language: PageLanguage) -> [String: String] {
        words.mapValues { language == .ko ? $0.ko : $0.en }
    }

    /// The words for one language as a JSON object, safe inside a `<script>` element.
    func json(_ language: PageLanguage) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: chosen(language), options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }

    func word(_ key: String, _ language: PageLanguage) -> String {
        words[key].map { language == .ko ? $0.ko : $0.en } ?? key
    }
}
