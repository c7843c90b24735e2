using System.Reflection;

using Xunit.Sdk;
using Xunit.v3;

namespace Wave.Tests.Infrastructure;

/// <summary>The place of a test in a class whose tests walk through one shared, expensive thing in turn (its last step stops it).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StepAttribute(int number) : Attribute
{
    public int Number { get; } = number;
}

/// <summary>Runs a class's tests in the order of their <see cref="StepAttribute"/>.</summary>
public sealed class StepOrderer : ITestCaseOrderer
{
    public IReadOnlyCollection<TTestCase> OrderTestCases<TTestCase>(IReadOnlyCollection<TTestCase> testCases) where TTestCase : notnull, ITestCase =>
        [.. testCases.OrderBy(c => c is IXunitTestCase xunit ? xunit.TestMethod.Method.GetCustomAttribute<StepAttribute>()?.Number ?? int.MaxValue : int.MaxValue)];
}
