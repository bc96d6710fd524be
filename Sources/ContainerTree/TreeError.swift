/// Why a change to the tree is refused. The FUSE adapter maps each to the
/// errno a user sees.
package enum TreeError: Error, Equatable, Sendable {
    case invalidName        // EINVAL
    case nameTooLong        // ENAMETOOLONG
    case exists             // EEXIST
    case notFound           // ENOENT
    case notEmpty           // ENOTEMPTY
    case isRoot             // EBUSY: the root cannot be removed or renamed
    case crossParent        // EPERM: re-parenting is not supported yet
    case intoOwnSubtree     // EINVAL
    case unnamedParent      // EPERM: no container below a set; name the set first
}
