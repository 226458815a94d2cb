/// The release this binary was built from.
public enum BoxofficeVersion {
    public static let current = "0.1.0"
}
