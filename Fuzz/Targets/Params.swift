// libFuzzer target: the params of every method, as the server reads them.
import JSON
@testable import Server

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParams(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count >= 1 else { return 0 }
  let input = UnsafeRawBufferPointer(start: data, count: count)
  // First byte: the method; the rest: params as JSON (unparsable params are skipped: the
  // request target covers parsing).
  guard case .success(let params) = JSON.parse(UnsafeRawBufferPointer(rebasing: input[1...])) else { return 0 }
  // The request validation hands on an object, or nil for absent, null or [] params.
  guard params.isObject || params.isNull else { return 0 }
  let given: JSON? = params.isNull ? nil : params
  switch input[0] % 8 {
  case 0: _ = OperationReader.createPetition(given)
  case 1: _ = OperationReader.petitionID(given) { .getPetition(id: $0) }
  case 2: _ = OperationReader.listPetitions(given)
  case 3: _ = OperationReader.petitionID(given) { .closePetition(id: $0) }
  case 4: _ = OperationReader.sign(given)
  case 5: _ = OperationReader.count(given)
  case 6: _ = OperationReader.unsubscribe(given)
  default: _ = Exporter.read(given)
  }
  return 0
}
