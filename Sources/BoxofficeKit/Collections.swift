extension Array {
    /// The array in consecutive slices of at most `size` elements, e.g. rows per INSERT.
    public func chunked(_ size: Int) -> [ArraySlice<Element>] {
        precondition(size > 0, "chunks hold at least one element")
        return stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
